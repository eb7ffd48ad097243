"""weight_norm and parametrize: parametrized Linear trained a few steps, state_dict keys, repr."""


def program(torch):
    nn = torch.nn
    P = torch.nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    torch.manual_seed(9)
    lin = nn.utils.parametrizations.weight_norm(nn.Linear(5, 4))
    sym = nn.Linear(4, 4)
    P.register_parametrization(sym, "weight", Symmetric())
    model = nn.Sequential(lin, nn.ReLU(), sym)
    print(model)
    print(list(model.state_dict().keys()))
    print("symmetric", torch.equal(sym.weight, sym.weight.T))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(10, 5)
    y = torch.randn(10, 4)
    losses = []
    for step in range(4):
        opt.zero_grad()
        loss = nn.functional.smooth_l1_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        print(f"step {step} loss {loss.item():.4f}")
    print("g", lin.parametrizations.weight.original0.flatten())
    with P.cached():
        out = model(x)
    print(out[:2])
    P.remove_parametrizations(sym, "weight")
    print(list(sym.state_dict().keys()), type(sym).__name__)
    return losses
