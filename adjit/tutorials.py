"""The PyTorch autograd tutorials' worked examples, written once for any torch-like module.

Each function takes the library as ``torch`` and prints what the tutorial prints. ``adjit demo``
runs them with adjit; the tests run them with adjit and with PyTorch and compare the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType


def sum_of_squares(torch: ModuleType) -> None:
    """f = x**2 + y**2 + z**2 at (2, 3, 4): f = 29, gradients 4, 6, 8."""
    x = torch.tensor(2.0, requires_grad=True)
    y = torch.tensor(3.0, requires_grad=True)
    z = torch.tensor(4.0, requires_grad=True)
    f = x**2 + y**2 + z**2
    print(f)
    f.backward()
    print(x.grad, y.grad, z.grad)


def external_gradient(torch: ModuleType) -> None:
    """Q = 3a**3 - b**2 with Q.backward(gradient=...): dQ/da = 9a**2, dQ/db = -2b."""
    a = torch.tensor([2.0, 3.0], requires_grad=True)
    b = torch.tensor([6.0, 4.0], requires_grad=True)
    Q = 3 * a**3 - b**2
    print(Q)
    external_grad = torch.tensor([1.0, 1.0])
    Q.backward(gradient=external_grad)
    print(9 * a**2 == a.grad)
    print(-2 * b == b.grad)
    print(a.grad, b.grad)


def requires_grad_propagation(torch: ModuleType) -> None:
    """An op's output requires grad when any input does."""
    x = torch.ones(5, 5)
    y = torch.zeros(5, 5)
    z = torch.ones((5, 5), requires_grad=True)
    a = x + y
    print(f"Does `a` require gradients?: {a.requires_grad}")
    b = x + z
    print(f"Does `b` require gradients?: {b.requires_grad}")


def no_grad_and_detach(torch: ModuleType) -> None:
    """Tracking is off under no_grad and for detached tensors."""
    x = torch.ones(5)
    w = torch.full((5, 3), 0.5, requires_grad=True)
    b = torch.tensor([0.1, -0.2, 0.3], requires_grad=True)
    z = torch.matmul(x, w) + b
    print(z.requires_grad, type(z.grad_fn).__name__)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    print(z.requires_grad)
    z = torch.matmul(x, w) + b
    z_det = z.detach()
    print(z_det.requires_grad)


def accumulation(torch: ModuleType) -> None:
    """Gradients accumulate across backward calls until zeroed."""
    inp = torch.eye(4, 5, requires_grad=True)
    out = (inp + 1).pow(2).t()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"First call\n{inp.grad}")
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nSecond call\n{inp.grad}")
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    print(f"\nCall after zeroing gradients\n{inp.grad}")


def computation_graph(torch: ModuleType) -> None:
    """The graph behind a result: grad_fn and next_functions back to AccumulateGrad."""
    a = torch.linspace(0.0, 2.0 * math.pi, steps=25, requires_grad=True)
    b = torch.sin(a)
    c = 2 * b
    d = c + 1
    out = d.sum()
    print(out)
    node, names = d.grad_fn, []
    while node is not None:
        names.append(type(node).__name__)
        node = next((n for n, _ in node.next_functions if n is not None), None)
    print(" -> ".join(names))
    out.backward()
    print(a.grad[:5])


def manual_sgd(torch: ModuleType) -> None:
    """Fit a cubic to sin(x) by hand: backward, then update under no_grad."""
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    a, b, c, d = (torch.tensor(v, requires_grad=True) for v in (0.1, 0.2, -0.1, 0.05))
    learning_rate = 1e-6
    for t in range(500):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        if t % 100 == 99:
            print(t, round(loss.item(), 2))
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad
                p.grad = None
    print(
        f"Result: y = {a.item():.4f} + {b.item():.4f} x + {c.item():.4f} x^2 + {d.item():.4f} x^3"
    )


def finetune_frozen(torch: ModuleType) -> None:
    """Freeze a model, replace its last layer, and train only that layer with SGD momentum."""
    nn, optim = torch.nn, torch.optim
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.linspace(-0.5, 0.5, p.numel()).reshape(p.shape) * (i + 1))
    for param in model.parameters():
        param.requires_grad = False
    model[2] = nn.Linear(16, 3)
    with torch.no_grad():
        model[2].weight.copy_(torch.linspace(-0.3, 0.3, 48).reshape(3, 16))
        model[2].bias.zero_()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"trainable parameters: {trainable} of {total}")
    optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    x = torch.linspace(-1.0, 1.0, 40).reshape(5, 8)
    target = torch.tensor([0, 2, 1, 1, 0])
    loss_fn = nn.CrossEntropyLoss()
    for step in range(5):
        optimizer.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        optimizer.step()
        print(step, f"{loss.item():.5f}")
    print([p.grad is None for p in model.parameters()])


EXAMPLES: dict[str, Callable[[ModuleType], None]] = {
    f.__name__: f
    for f in (
        sum_of_squares,
        external_gradient,
        requires_grad_propagation,
        no_grad_and_detach,
        accumulation,
        computation_graph,
        manual_sgd,
        finetune_frozen,
    )
}
