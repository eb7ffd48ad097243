"""pytorch/examples' MNIST script, shrunk: Dropout after max_pool2d, Adadelta, StepLR, test loop."""


def program(torch):
    nn = torch.nn
    F = torch.nn.functional
    data = torch.utils.data

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3, 1)
            self.conv2 = nn.Conv2d(8, 16, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(16 * 4 * 4, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    def train(model, loader, optimizer, epoch):
        model.train()
        for batch_idx, (x, target) in enumerate(loader):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x), target)
            loss.backward()
            optimizer.step()
            if batch_idx % 2 == 0:
                print(
                    f"Train Epoch: {epoch} [{batch_idx * len(x)}/{len(loader.dataset)} "
                    f"({100.0 * batch_idx / len(loader):.0f}%)]\tLoss: {loss.item():.6f}"
                )

    def test(model, loader):
        model.eval()
        test_loss, correct = 0, 0
        with torch.no_grad():
            for x, target in loader:
                output = model(x)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(loader.dataset)
        n = len(loader.dataset)
        acc = 100.0 * correct / n
        print(f"\nTest set: Average loss: {test_loss:.4f}, Accuracy: {correct}/{n} ({acc:.0f}%)\n")
        return test_loss

    torch.manual_seed(1)
    images = torch.rand(48, 1, 12, 12)
    labels = (images.mean((1, 2, 3)) * 10 % 10).long()
    mean, std = images.mean(), images.std()
    images = (images - mean) / std  # transforms.Normalize
    train_ds = data.TensorDataset(images[:32], labels[:32])
    test_ds = data.TensorDataset(images[32:], labels[32:])
    train_loader = data.DataLoader(train_ds, batch_size=8, shuffle=True)
    test_loader = data.DataLoader(test_ds, batch_size=8)
    model = Net()
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    results = []
    for epoch in range(1, 3):
        train(model, train_loader, optimizer, epoch)
        results.append(test(model, test_loader))
        scheduler.step()
    return results
