"""MLP classifier: TensorDataset + shuffled DataLoader, CrossEntropyLoss, SGD(nesterov) + StepLR."""


def program(torch):
    nn = torch.nn
    from_data = torch.utils.data
    torch.manual_seed(0)
    x = torch.randn(96, 8)
    w_true = torch.randn(8, 3)
    y = (x @ w_true).argmax(dim=1)
    ds = from_data.TensorDataset(x, y)
    g = torch.Generator()
    g.manual_seed(123)
    loader = from_data.DataLoader(ds, batch_size=16, shuffle=True, generator=g)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    print(model)
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4
    )
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    losses = []
    for epoch in range(5):
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.size(0)
        sched.step()
        losses.append(total / len(ds))
        print(f"epoch {epoch} loss {total / len(ds):.4f} lr {sched.get_last_lr()[0]:.4f}")
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean()
    print("accuracy", acc)
    print(list(model.state_dict().keys()))
    print(loss)
    print(model[0].weight.grad[:2])
    print(opt.state_dict()["param_groups"])
    print(sched.state_dict())
    print(opt.state_dict()["state"][3])
    return losses
