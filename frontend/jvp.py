"""``jvp`` and ``linearize`` with torch.func's signatures: trace, the JVP pass, replay.

The function is traced once at the primals' shapes in a fresh Trace, passes/jvp.py builds the
graph of its value and tangents, and ``replay`` runs that graph on (primals, tangents): eagerly
its ops record eager autograd (so reverse-over-forward, e.g. a Hessian-vector product as the
gradient of a jvp, works), and inside a trace (``adjit.compile``, another transform) they are
emitted into it, so the JVP is compiled and fused with the rest of the program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..ir.graph import Eqn, Lit, Var
from ..runtime.tensor import Tensor
from .jvp_builder import jvp_graph
from .pytree import LEAF, flatten, unflatten
from .replay import replay, run_eqn
from .tracer import Trace, tracing

JVP_STR = "jvp(f, primals, tangents)"


def spec_str(spec: Any) -> str:
    """A tree spec the way PyTorch prints its TreeSpec (``TreeSpec(tuple, None, [*, *])``)."""
    if spec == LEAF:
        return "*"
    kind, keys, children = spec
    inner = ",\n  ".join(spec_str(c) for c in children)
    return f"TreeSpec({kind.__name__}, {keys!r}, [{inner}])"


def check_tensors(leaves: list[Any], api: str, argname: str) -> None:
    """PyTorch's assert_non_empty_list_of_tensors."""
    if not leaves:
        raise RuntimeError(f"{api}: Expected {argname} to contain at least one Tensor.")
    for x in leaves:
        if not isinstance(x, Tensor):
            raise RuntimeError(f"{api}: Expected {argname} to only contain Tensors, got {type(x)}")


def _check_outputs(leaves: list[Any], api: str) -> None:
    """PyTorch's assert_non_empty_tensor_output."""
    if (len(leaves) == 1 and leaves[0] is None) or not leaves:
        raise RuntimeError(
            f"{api}: Expected f to be a function that has non-empty output (got output = {leaves})"
        )
    for o in leaves:
        if not isinstance(o, Tensor):
            raise RuntimeError(
                f"{api}: expected f(*primals) to return only tensors, got unsupported type "
                f"{type(o)}"
            )


def _check_primal(p: Tensor) -> None:
    if not (p.dtype.is_floating_point or p.dtype.is_complex):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {p.dtype}")


def _check_tangent(p: Tensor, t: Tensor) -> None:
    """make_dual's checks."""
    if not (t.dtype.is_floating_point or t.dtype.is_complex):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {t.dtype}")
    if tuple(t.shape) != tuple(p.shape):
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            f"original Tensor, this is not supported. Tensor is of size {list(p.shape)} while "
            f"the given forward gradient is of size {list(t.shape)}."
        )


class Traced:
    """``func`` traced at the primals: the graph of its value and tangents, and how to read it."""

    def __init__(
        self, func: Callable[..., Any], primals: tuple[Any, ...], has_aux: bool, api: str
    ) -> None:
        flat, self.in_spec = flatten(primals)
        self.flat_primals: list[Tensor] = flat
        trace = Trace()
        with tracing(trace):
            # inputs require grad inside: ``x.requires_grad_()`` is then no new leaf (whose
            # DETACH would drop x's tangent; a dual tensor keeps its tangent in PyTorch)
            tracers = [trace.new_input(_aval(p), True) for p in flat]
            result = func(*unflatten(self.in_spec, tracers))
        aux: Any = None
        if has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError(
                    f"{api}: output of function f should be a tuple: (output, aux) if has_aux "
                    "is True"
                )
            result, aux = result
        outs, self.out_spec = flatten(result)
        _check_outputs(outs, api)
        aux_leaves, self.aux_spec = flatten(aux)
        for a in aux_leaves:  # (PyTorch unwraps each leaf as a tensor)
            if has_aux and not isinstance(a, Tensor):
                raise RuntimeError(f"Expected tensors, got unsupported type {type(a)}")
        self.aux_tensor = [isinstance(a, Tensor) for a in aux_leaves]
        self.aux_other = [a for a in aux_leaves if not isinstance(a, Tensor)]
        if trace.mutated:
            raise NotImplementedError(
                f"{api}: in-place modification of a tensor from outside the function (a "
                "buffer?) is not supported under jvp; compute a new tensor"
            )
        graph = trace.graph([*outs, *(a for a in aux_leaves if isinstance(a, Tensor))])
        self.lifted = list(trace.lifted)
        self.n_out = len(outs)
        self.graph, has = jvp_graph(graph, range(len(flat)))
        self.has_tangent = has[: self.n_out]

    def run(self, primals: Sequence[Tensor], tangents: Sequence[Tensor]) -> list[Any]:
        return replay(self.graph, [*primals, *self.lifted, *tangents])

    def assemble(self, values: list[Any], strict: bool, api: str) -> tuple[Any, Any, Any]:
        """(outputs, tangents, aux) as trees, zeros for outputs without a tangent."""
        n = self.n_out
        n_aux = sum(self.aux_tensor)
        outs, aux_values = values[:n], values[n : n + n_aux]
        found = iter(values[n + n_aux :])
        tangents = []
        for o, h in zip(outs, self.has_tangent, strict=True):
            if h:
                tangents.append(next(found))
            elif strict:
                raise RuntimeError(
                    f"{api[:-1]}, strict=True): The output of f is independent of the inputs. "
                    "This is not allowed with strict=True."
                )
            else:
                tangents.append(_zeros_like(o))
        tensors, others = iter(aux_values), iter(self.aux_other)
        aux = unflatten(
            self.aux_spec, [next(tensors) if t else next(others) for t in self.aux_tensor]
        )
        return unflatten(self.out_spec, outs), unflatten(self.out_spec, tangents), aux


def _aval(t: Tensor) -> Any:
    from ..ir.aval import Aval

    return Aval(tuple(t.shape), t.dtype)


def _zeros_like(t: Tensor) -> Tensor:
    from ..runtime.creation import zeros_like

    return zeros_like(t)


def _fit_tangent(p: Tensor, t: Tensor) -> Tensor:
    return t if t.dtype is p.dtype else t.to(p.dtype)


def jvp(
    func: Callable[..., Any],
    primals: Any,
    tangents: Any,
    *,
    strict: bool = False,
    has_aux: bool = False,
) -> Any:
    """``(func(*primals), J tangents)`` (and ``aux`` with ``has_aux``), as torch.func.jvp."""
    if not isinstance(primals, tuple):
        raise RuntimeError(
            f"{JVP_STR}: Expected primals to be a tuple. E.g. it should be valid to call "
            "f(*primals)."
        )
    flat_p, p_spec = flatten(primals)
    flat_t, t_spec = flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(
            f"{JVP_STR}: Expected primals and tangents to have the same python structure. For "
            "example, if primals is a tuple of 3 tensors, tangents also must be. Got primals "
            f"with structure {spec_str(p_spec)} and tangents with structure {spec_str(t_spec)}"
        )
    check_tensors(flat_p, JVP_STR, "primals")
    check_tensors(flat_t, JVP_STR, "tangents")
    for p, t in zip(flat_p, flat_t, strict=True):
        _check_primal(p)
        _check_tangent(p, t)
    traced = Traced(func, primals, has_aux, JVP_STR)
    ts = [_fit_tangent(p, t) for p, t in zip(flat_p, flat_t, strict=True)]
    values = traced.run(flat_p, ts)
    out, tangent, aux = traced.assemble(values, strict, JVP_STR)
    return (out, tangent, aux) if has_aux else (out, tangent)


def linearize(func: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(func(*primals), jvp_fn)``: ``jvp_fn(*tangents)`` is the JVP at ``primals``; the
    values that do not depend on the tangents are computed once, here."""
    flat_p, p_spec = flatten(primals)
    for p in flat_p:
        _check_primal(p)
    traced = Traced(func, primals, False, JVP_STR)
    linear = _Linear(traced, flat_p)
    out = unflatten(traced.out_spec, linear.outputs)

    def jvp_fn(*tangents: Any) -> Any:
        flat_t, t_spec = flatten(tangents)
        if t_spec != p_spec:
            raise RuntimeError(
                f"Expected the tangents {spec_str(t_spec)} to have the same argspec as the "
                f"primals {spec_str(p_spec)}"
            )
        for idx, (p, t) in enumerate(zip(flat_p, flat_t, strict=True)):
            if tuple(t.shape) != tuple(p.shape):
                raise RuntimeError(
                    f"tangent:{idx} with shape {_size(t)} in flattened pytree doesn't match "
                    f"the shape {_size(p)} of the corresponding primal."
                )
            if t.device != p.device:
                raise RuntimeError(
                    f"tangent:{idx} with device {t.device} in flattened pytree doesn't match "
                    f"the device {p.device} of the corresponding primal."
                )
            if t.dtype is not p.dtype:
                raise RuntimeError(
                    f"tangent:{idx} with dtype {t.dtype} in flattened pytree doesn't match the "
                    f"dtype {p.dtype} of the corresponding primal."
                )
        return unflatten(traced.out_spec, linear(flat_t))

    return out, jvp_fn


def _size(t: Tensor) -> str:
    return f"torch.Size({list(t.shape)})"


class _Linear:
    """The JVP graph split at the tangents: the equations that read no tangent ran once (at
    ``linearize``), the others run per call on their saved values."""

    def __init__(self, traced: Traced, primals: list[Tensor]) -> None:
        self.traced = traced
        g = traced.graph
        n_in = len(primals) + len(traced.lifted)
        tangent_vars = set(g.inputs[n_in:])
        varying = set(tangent_vars)
        self.eqns: list[Eqn] = []
        env: dict[Var, Any] = dict(zip(g.inputs[:n_in], [*primals, *traced.lifted], strict=True))
        env.update((v, Tensor._make(arr)) for v, arr in g.consts)
        for e in g.eqns:
            if any(isinstance(a, Var) and a in varying for a in e.inputs):
                varying.add(e.out)
                self.eqns.append(e)
            else:
                env[e.out] = run_eqn(e, [_read(env, a) for a in e.inputs])
        self.env, self.tangent_vars = env, list(g.inputs[n_in:])
        n = traced.n_out
        self.outputs = [_read(env, o) for o in g.outputs[:n]]
        n_aux = sum(traced.aux_tensor)
        self.tangent_outs = g.outputs[n + n_aux :]

    def __call__(self, tangents: list[Tensor]) -> list[Any]:
        env = dict(self.env)
        env.update(zip(self.tangent_vars, tangents, strict=True))
        for e in self.eqns:
            env[e.out] = run_eqn(e, [_read(env, a) for a in e.inputs])
        found = iter(self.tangent_outs)
        return [
            _read(env, next(found)) if h else _zeros_like(o)
            for o, h in zip(self.outputs, self.traced.has_tangent, strict=True)
        ]


def _read(env: dict[Var, Any], a: Any) -> Any:
    return a.value if isinstance(a, Lit) else env[a]


__all__ = ["jvp", "linearize"]
