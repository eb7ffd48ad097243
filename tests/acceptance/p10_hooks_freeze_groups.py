"""Module hooks, named_parameters, requires_grad_(False) freezing, param groups with own lrs."""


def program(torch):
    nn = torch.nn
    torch.manual_seed(11)
    backbone = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 10), nn.ReLU())
    head = nn.Linear(10, 2)
    model = nn.Sequential()
    model.add_module("backbone", backbone)
    model.add_module("head", head)

    log = []
    feats = {}

    def fwd_hook(mod, inp, out):
        feats[type(mod).__name__] = out.detach()
        log.append(("fwd", type(mod).__name__, tuple(out.shape)))

    def pre_hook(mod, args):
        log.append(("pre", type(mod).__name__, tuple(args[0].shape)))

    def bwd_hook(mod, grad_in, grad_out):
        log.append(("bwd", type(mod).__name__, tuple(grad_out[0].shape)))

    handles = [
        backbone[2].register_forward_hook(fwd_hook),
        head.register_forward_pre_hook(pre_hook),
        head.register_full_backward_hook(bwd_hook),
    ]
    backbone[0].requires_grad_(False)
    for name, p in model.named_parameters():
        print(name, tuple(p.shape), p.requires_grad)
    opt = torch.optim.SGD(
        [
            {"params": [p for p in backbone.parameters() if p.requires_grad], "lr": 0.01},
            {"params": head.parameters()},
        ],
        lr=0.1,
        momentum=0.5,
    )
    print(opt)
    x = torch.randn(16, 6)
    y = torch.randint(0, 2, (16,))
    frozen_before = backbone[0].weight.clone()
    losses = []
    for step in range(3):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.nll_loss(nn.functional.log_softmax(model(x), dim=1), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        print(f"step {step} loss {loss.item():.4f}")
    for h in handles:
        h.remove()
    model(x)
    print(log)
    print(
        "frozen unchanged", torch.equal(frozen_before, backbone[0].weight), backbone[0].weight.grad
    )
    print("feature", feats["Linear"][0])
    print(head.state_dict())
    print(model(x).softmax(-1)[:3])
    print([g["lr"] for g in opt.param_groups], len(opt.state))
    return losses
