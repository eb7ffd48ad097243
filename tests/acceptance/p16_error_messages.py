"""A debugging session: common mistakes caught and their messages printed, as users paste them."""


def program(torch):
    nn = torch.nn
    torch.manual_seed(17)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    conv = nn.Conv2d(3, 4, 3)
    mistakes = {
        "wrong in_features": lambda: model(torch.randn(2, 5, 3)),
        "bad view": lambda: torch.randn(2, 3).view(4, -1),
        "cat sizes": lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)]),
        "matmul": lambda: torch.ones(2, 3) @ torch.ones(2, 3),
        "conv channels": lambda: conv(torch.randn(1, 2, 5, 5)),
        "target out of range": lambda: nn.functional.cross_entropy(
            torch.randn(2, 3), torch.tensor([0, 3])
        ),
        "state_dict shapes": lambda: model.load_state_dict(
            {"1.weight": torch.ones(4, 10), "1.bias": torch.ones(4)}
        ),
        "broadcast": lambda: torch.ones(2, 3) + torch.ones(4),
    }
    for name, fn in mistakes.items():
        try:
            fn()
            print(name, "-> no error")
        except Exception as e:
            print(f"{name} -> {type(e).__name__}: {e}")
    x = model(torch.randn(2, 3, 4)).sum()
    x.backward()
    try:
        x.backward()
    except RuntimeError as e:
        print("twice ->", str(e).split(".")[0])
    return None
