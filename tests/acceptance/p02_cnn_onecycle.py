"""Small CNN (Conv2d, BatchNorm2d, MaxPool2d, Dropout, AdaptiveAvgPool2d), Adam + OneCycleLR."""


def program(torch, p_drop=0.25):
    nn = torch.nn
    F = torch.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            # bias=False before BatchNorm: BN cancels a conv bias, so its gradient is rounding
            # noise that Adam would scale to full steps and show in bn1.running_mean
            self.conv1 = nn.Conv2d(1, 4, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.conv2 = nn.Conv2d(4, 8, 3)
            self.pool = nn.MaxPool2d(2)
            self.drop = nn.Dropout(p_drop)
            self.gap = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8, 2)

        def forward(self, x):
            x = self.pool(F.relu(self.bn1(self.conv1(x))))
            x = F.relu(self.conv2(x))
            x = self.drop(self.gap(x).flatten(1))
            return self.fc(x)

    torch.manual_seed(1)
    model = Net()
    print(model)
    x = torch.randn(32, 1, 10, 10)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    steps_per_epoch, epochs = 4, 3
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.05, steps_per_epoch=steps_per_epoch, epochs=epochs
    )
    lrs, losses = [], []
    for epoch in range(epochs):
        model.train()
        for i in range(steps_per_epoch):
            xb, yb = x[i * 8 : (i + 1) * 8], y[i * 8 : (i + 1) * 8]
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            sched.step()
            lrs.append(opt.param_groups[0]["lr"])
            losses.append(loss.item())
        model.eval()
        correct = 0
        with torch.no_grad():
            out = model(x)
            correct += (out.argmax(1) == y).sum().item()
        print(f"epoch {epoch}: last loss {losses[-1]:.4f}, acc {correct / len(x):.3f}")
    print("bn running_mean", model.bn1.running_mean)
    print("num_batches_tracked", model.bn1.num_batches_tracked)
    print("lrs", [round(v, 6) for v in lrs])
    return losses
