"""PyTorch 2 style: model = torch.compile(model) trained with AdamW, evaluated under no_grad."""


def program(torch):
    nn = torch.nn
    torch.manual_seed(18)
    # no Dropout: PyTorch's compiled dropout draws from its own (Inductor) RNG, not eager's
    model = nn.Sequential(nn.Linear(4, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 1))
    compiled = torch.compile(model)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x = torch.randn(32, 4)
    y = x.pow(2).sum(1, keepdim=True)
    losses = []
    for step in range(4):
        compiled.train()
        opt.zero_grad()
        loss = nn.functional.mse_loss(compiled(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        print(f"step {step} loss {loss.item():.4f}")
    compiled.eval()
    with torch.no_grad():
        print(compiled(x[:3]))
    return losses
