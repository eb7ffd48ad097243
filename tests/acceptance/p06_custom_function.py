"""A custom autograd.Function (save_for_backward, needs_input_grad) checked with gradcheck."""


def program(torch):
    class ScaledSoftplus(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, beta):
            ctx.save_for_backward(x, beta)
            return torch.log1p(torch.exp(beta * x)) / beta

        @staticmethod
        def backward(ctx, grad_out):
            x, beta = ctx.saved_tensors
            s = torch.sigmoid(beta * x)
            gx = grad_out * s if ctx.needs_input_grad[0] else None
            sp = torch.log1p(torch.exp(beta * x))
            gb = (
                (grad_out * (x * s / beta - sp / beta**2)).sum()
                if ctx.needs_input_grad[1]
                else None
            )
            return gx, gb

    torch.manual_seed(6)
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    print("gradcheck", torch.autograd.gradcheck(ScaledSoftplus.apply, (x, beta)))
    print("gradgradcheck-free output", ScaledSoftplus.apply(x, beta))
    y = ScaledSoftplus.apply(x, beta)
    print(type(y.grad_fn).__name__)
    y.sum().backward()
    print("x.grad", x.grad)
    print("beta.grad", beta.grad)
    ref = torch.nn.functional.softplus(x.detach(), beta=1.5)
    print("matches F.softplus", torch.allclose(y.detach(), ref))
    xf = torch.randn(3, requires_grad=True)
    out = ScaledSoftplus.apply(xf, torch.tensor(2.0))
    out.backward(torch.ones(3))
    print(xf.grad)
    return x.grad, beta.grad
