"""Checkpoint save/resume: 3 epochs, torch.save, rebuild, torch.load, continue == uninterrupted."""

import os
import tempfile


def program(torch):
    nn = torch.nn

    def build():
        torch.manual_seed(5)
        model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Dropout(0.1), nn.Linear(16, 1))
        opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=6)
        return model, opt, sched

    g = torch.Generator().manual_seed(7)
    x = torch.randn(20, 4, generator=g)
    y = x.sum(1, keepdim=True).sin()

    def epoch(model, opt, sched):
        model.train()
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    model, opt, sched = build()
    straight = [epoch(model, opt, sched) for _ in range(6)]

    model, opt, sched = build()
    first = [epoch(model, opt, sched) for _ in range(3)]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ckpt.pt")
        torch.save(
            {
                "epoch": 3,
                "model": model.state_dict(),
                "optim": opt.state_dict(),
                "sched": sched.state_dict(),
                "rng": torch.get_rng_state(),
            },
            path,
        )
        del model, opt, sched
        torch.manual_seed(999)  # disturb the global RNG; the checkpoint restores it
        model, opt, sched = build()
        ckpt = torch.load(path)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optim"])
    sched.load_state_dict(ckpt["sched"])
    torch.set_rng_state(ckpt["rng"])
    print("resumed at epoch", ckpt["epoch"], "keys", sorted(ckpt))
    print("optim state keys", sorted(ckpt["optim"]["state"][0]))
    print("step", ckpt["optim"]["state"][0]["step"])
    resumed = first + [epoch(model, opt, sched) for _ in range(3)]
    for a, b in zip(straight, resumed, strict=True):
        print(f"{a:.6f} {b:.6f} {a == b}")
    return straight, resumed
