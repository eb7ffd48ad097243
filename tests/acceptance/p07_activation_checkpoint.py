"""torch.utils.checkpoint in a residual net: same loss and gradients as without checkpointing."""


def program(torch):
    nn = torch.nn
    cp = torch.utils.checkpoint  # bound by `import torch` alone, as PyTorch does

    class Block(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.net = nn.Sequential(
                nn.LayerNorm(d), nn.Linear(d, d), nn.GELU(), nn.Dropout(0.2), nn.Linear(d, d)
            )

        def forward(self, x):
            return x + self.net(x)

    class ResNet(nn.Module):
        def __init__(self, d=8, n=3, use_cp=False):
            super().__init__()
            self.blocks = nn.ModuleList(Block(d) for _ in range(n))
            self.use_cp = use_cp

        def forward(self, x):
            for b in self.blocks:
                x = cp.checkpoint(b, x, use_reentrant=False) if self.use_cp else b(x)
            return x

    results = []
    for use_cp in (False, True):
        torch.manual_seed(8)
        model = ResNet(use_cp=use_cp)
        x = torch.randn(4, 8, requires_grad=True)
        loss = model(x).pow(2).mean()
        loss.backward()
        print(f"use_cp={use_cp} loss {loss.item():.6f}")
        print(" x.grad", x.grad[0])
        print(" grad norm", sum(p.grad.norm() ** 2 for p in model.parameters()).sqrt())
        results.append((loss.detach(), x.grad.clone()))
    print("same loss", torch.equal(results[0][0], results[1][0]))
    print("same grad", torch.allclose(results[0][1], results[1][1]))
    return results
