"""torch.func's reverse-mode transforms: ``grad``, ``grad_and_value``, ``vjp``, ``jacrev``,
``jacfwd`` and ``hessian``, eager and traced, on pytrees of arguments."""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any, cast

from ..runtime import backward, trace_state
from ..runtime.autograd import run_backward
from ..runtime.backward import grad as autograd_grad
from ..runtime.backward import make_grads
from ..runtime.grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from ..runtime.tensor import Tensor
from .pytree import flatten, spec_text, unflatten

Argnums = int | tuple[int, ...]

# Note [reverse mode as torch.func sees it]
# ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
# torch.func.grad wraps each differentiated argument at a new "level" and calls
# autograd.grad(create_graph=True) on it; unwrapping the results leaves them differentiable
# by the enclosing levels only. adjit has no levels: it gets the same results from the one
# autograd engine (eager, or the tracing one inside a trace, Note [autograd while tracing]).
# A differentiated argument that already requires grad is passed on as an alias (a view of
# it), so gradients of the result still flow to it from an enclosing grad or backward; one
# that does not is a fresh leaf. The gradient is taken with create_graph=True (a higher
# order may follow), and a result whose history reaches only this call's fresh leaves is
# detached: nothing outside could differentiate it, so it is returned as torch returns it,
# without a grad_fn. Transforms inside a trace record into it, so under adjit.compile a
# grad, vjp or Jacobian is part of the compiled program.


def _check_argnums(argnums: Any, n: int) -> Argnums:
    if not isinstance(argnums, int | tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")

    def one(a: Any) -> int:
        if not isinstance(a, int):
            raise RuntimeError(f"argnum must be int, got: {type(a)}")
        if -n <= a < n:
            return a % n
        raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")

    if isinstance(argnums, int):
        return one(argnums)
    if len(argnums) == 0:
        raise RuntimeError("argnums must be non-empty")
    wrapped = tuple(one(a) for a in argnums)
    if len(set(wrapped)) != len(wrapped):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return wrapped


def _slice(args: tuple[Any, ...], argnums: Argnums) -> Any:
    """The differentiated arguments: one argument, or a tuple of them."""
    return args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)


def _replace(args: tuple[Any, ...], new: Any, argnums: Argnums) -> tuple[Any, ...]:
    if isinstance(argnums, int):
        return tuple(new if i == argnums else a for i, a in enumerate(args))
    return tuple(new[argnums.index(i)] if i in argnums else a for i, a in enumerate(args))


# Note [Function forwards see unwrapped inputs]
# Under torch.func.grad/vjp/jacrev a custom autograd.Function's forward (and setup_context) sees
# its inputs one transform level down: an argument the caller passed without requires_grad is
# a plain tensor there again, so a forward may call .numpy() on it (the "extending torch.func"
# tutorial's NumpySort). adjit's transforms differentiate fresh leaves (``x.detach()
# .requires_grad_()``); FRESH names them, and Function.apply gives its forward their detached
# aliases (same memory), while the outputs' grad_fn still connects to the leaves.
FRESH: dict[int, weakref.ref[Tensor]] = {}


def _forget(key: int, _: Any) -> None:
    FRESH.pop(key, None)


def unwrapped(x: Any) -> Any:
    """``x`` as a Function's forward sees it: a transform's fresh leaf detached."""
    ref = FRESH.get(id(x))
    leaf = None if ref is None else ref()
    return leaf.detach() if leaf is not None and leaf is x else x


class _Level:
    """One transform call's differentiable copies of its arguments (Note [reverse mode as
    torch.func sees it])."""

    def __init__(self) -> None:
        self.fresh: set[int] = set()
        self.outer = is_grad_enabled()  # under an outer no_grad nothing outside records

    def wrap(self, x: Any) -> Any:
        if not isinstance(x, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
        if x.requires_grad:
            return cast(Any, x).view_as(x)
        if x._is_tracer:  # a fresh leaf that is not a detach: forward-mode tangents (jvp of
            y = cast(Any, x).view_as(x)  # grad, a Hessian) flow through it
            y._trace.mark_differentiated(y)
            return y
        y = x.detach().requires_grad_()
        self.fresh.add(id(y))
        # (Note [Function forwards see unwrapped inputs])
        FRESH[id(y)] = weakref.ref(y, functools.partial(_forget, id(y)))
        self._keep = getattr(self, "_keep", []) + [y]  # ids stay unique while in use
        return y

    def wrap_args(
        self, args: tuple[Any, ...], argnums: Argnums | None
    ) -> tuple[tuple[Any, ...], list[Any], Any]:
        """``args`` with the differentiated ones (``argnums``; every one for None) replaced by
        differentiable copies: the new arguments, the copies' leaves and their tree spec."""
        if argnums is not None:
            argnums = _check_argnums(argnums, len(args))
        leaves, spec = flatten(args if argnums is None else _slice(args, argnums))
        wrapped = [self.wrap(x) for x in leaves]
        new = unflatten(spec, wrapped)
        return (new if argnums is None else _replace(args, new, argnums)), wrapped, spec

    def unwrap_tree(self, tree: Any) -> Any:
        """``unwrap`` on every leaf of ``tree``; the leaves' walks share what they found."""
        leaves, spec = flatten(tree)
        inside: set[int] = set()  # (node ids, alive while the leaves hold their graphs)
        return unflatten(spec, [self.unwrap(x, inside) for x in leaves])

    def unwrap(self, x: Any, inside: set[int] | None = None) -> Any:
        """``x`` as the caller sees it: detached when only this call's leaves reach it."""
        if not isinstance(x, Tensor) or x.grad_fn is None:
            return x
        if not self.outer:
            return x.detach()
        if x._is_tracer:
            return x
        return x if self._reaches_outside(x, set() if inside is None else inside) else x.detach()

    def _reaches_outside(self, x: Tensor, inside: set[int]) -> bool:
        """Whether ``x``'s history reaches a leaf other than this call's fresh ones. A walk
        that finds none adds the nodes it saw to ``inside``, which the walks of the other
        results unwrapped with it (every argument's gradient shares most of the graph) do
        not enter again."""
        seen: set[int] = set()
        stack = [x.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen or id(node) in inside:
                continue
            seen.add(id(node))
            var = getattr(node, "variable", None)
            if var is not None:
                if id(var) not in self.fresh:
                    return True
                continue
            stack.extend(f for f, _ in getattr(node, "next_functions", ()))
        inside |= seen
        return False


def _engine(
    outs: list[Any],
    inputs: list[Any],
    cts: list[Any] | None,
    retain_graph: bool | None,
    create_graph: bool,
    allow_unused: bool,
) -> tuple[Any, ...]:
    """autograd.grad: in the trace that recorded traced outputs, else the eager engine, whose
    rules record traced cotangents' work into the active trace (vmap of a vjp_fn)."""
    if any(o._is_tracer for o in outs):
        return autograd_grad(outs, inputs, cts, retain_graph, create_graph, allow_unused)
    return run_backward(
        outs,
        make_grads(outs, list(cts or [])),
        inputs=inputs,
        retain_graph=create_graph if retain_graph is None else retain_graph,
        create_graph=create_graph,
        allow_unused=allow_unused,
    )


def batched_grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any,
    retain_graph: bool | None,
    create_graph: bool,
    allow_unused: bool,
) -> tuple[Any, ...]:
    """``autograd.grad(..., is_grads_batched=True)``: the first dimension of every
    grad_output is a batch of cotangents, and one engine run under vmap serves them all (as
    PyTorch's, which vmaps its engine); inputs the outputs do not reach give None."""
    from .vmap import vmap

    outs, ins, gos = _listed(outputs), _listed(inputs), _listed(grad_outputs)
    unused: list[int] = []

    def one(*cts: Any) -> tuple[Any, ...]:
        found = _engine(outs, ins, list(cts), retain_graph, create_graph, allow_unused)
        unused[:] = [k for k, g in enumerate(found) if g is None]
        return tuple(g for g in found if g is not None)

    got = iter(vmap(one)(*gos))
    return tuple(None if k in unused else next(got) for k in range(len(ins)))


def _listed(x: Any) -> list[Any]:
    return list(x) if isinstance(x, tuple | list) else [x]


def _autograd(
    outputs: Sequence[Any],
    inputs: Sequence[Any],
    cotangents: Sequence[Any] | None,
    create_graph: bool,
    retain_graph: bool = True,
) -> list[Any]:
    """torch.func's ``_autograd_grad``: zeros for inputs the outputs do not reach."""
    pairs = [
        (o, c)
        for o, c in zip(outputs, cotangents or [None] * len(outputs), strict=True)
        if o.requires_grad
    ]
    if not pairs:
        return [x.new_zeros(tuple(x.shape)) for x in inputs]
    outs = [o for o, _ in pairs]
    cts = None if cotangents is None else [c for _, c in pairs]
    found = _engine(outs, list(inputs), cts, retain_graph, create_graph, allow_unused=True)
    return [
        x.new_zeros(tuple(x.shape)) if g is None else g for g, x in zip(found, inputs, strict=True)
    ]


def _grad_and_value(
    func: Callable[..., Any],
    argnums: Argnums,
    has_aux: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[Any, Any]:
    level = _Level()
    with enable_grad():  # a function transform: an outer no_grad does not reach inside
        new_args, wrapped, spec = level.wrap_args(args, argnums)
        output, aux = _split_aux(func(*new_args, **kwargs), has_aux, "grad_and_value(f)(*args)")
        if not isinstance(output, Tensor):
            raise RuntimeError(
                f"grad_and_value(f)(*args): Expected f(*args) to return a Tensor, got "
                f"{type(output)}"
            )
        if output.dim() != 0:
            raise RuntimeError(
                "grad_and_value(f)(*args): Expected f(*args) to return a scalar Tensor, got "
                f"tensor with {output.dim()} dims. Maybe you wanted to use the vjp or jacrev "
                "APIs instead?"
            )
        grads = _autograd([output], wrapped, None, create_graph=True)
        grad_input = unflatten(spec, level.unwrap_tree(grads))
        output, aux = level.unwrap(output), level.unwrap_tree(aux)
    return grad_input, ((output, aux) if has_aux else output)


def _split_aux(output: Any, has_aux: bool, api: str) -> tuple[Any, Any]:
    """``(output, aux)``: with ``has_aux`` the function's pair (PyTorch's error otherwise)."""
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(
            f"{api}: output of function f should be a tuple: (output, aux) if has_aux is True"
        )
    return output


def grad_and_value(
    func: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """``(gradient, value)`` of a scalar-valued ``func`` with respect to ``argnums``
    (``((gradient, (value, aux))`` with ``has_aux``), as ``torch.func.grad_and_value``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _grad_and_value(func, argnums, has_aux, args, kwargs)

    return wrapper


def grad(
    func: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The gradient of a scalar-valued ``func`` with respect to ``argnums`` (pytrees of
    tensors: dicts of parameters too), as ``torch.func.grad``; nests and composes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = _grad_and_value(func, argnums, has_aux, args, kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """``(func(*primals), vjp_fn)`` (and ``aux``), as ``torch.func.vjp``."""
    return _vjp(func, primals, None, has_aux)[0]


def _vjp(
    func: Callable[..., Any], primals: tuple[Any, ...], argnums: Argnums | None, has_aux: bool
) -> tuple[tuple[Any, ...], _Level]:
    """vjp's result, and the level whose fresh leaves its vjp_fn differentiates."""
    level = _Level()
    with enable_grad():
        args, wrapped, spec = level.wrap_args(primals, argnums)
        out, aux = _split_aux(func(*args), has_aux, "vjp(f, *primals)")
        aux = level.unwrap_tree(aux)
        out_leaves, out_spec = flatten(out)
        if (len(out_leaves) == 1 and out_leaves[0] is None) or not out_leaves:
            raise RuntimeError(
                "vjp(f, *primals): Expected f to be a function that has non-empty output (got "
                f"output = {out_leaves})"
            )
        for o in out_leaves:
            if not isinstance(o, Tensor):
                raise RuntimeError(
                    "vjp(f, *primals): expected f(*primals) to return only tensors, got "
                    f"unsupported type {type(o)}"
                )
            if not o.dtype.is_floating_point and o.dtype.category != 3:
                raise RuntimeError(
                    "vjp(f, ...): All outputs of f must be floating-point or complex Tensors, "
                    f"got Tensor with dtype {o.dtype}"
                )
        results = unflatten(out_spec, level.unwrap_tree(out_leaves))

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None) -> Any:
        if create_graph is None:
            create_graph = is_grad_enabled()
        ct_leaves, ct_spec = flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of "
                f"outputs to the function. cotangents: {spec_text(ct_spec)}, primal output: "
                f"{spec_text(out_spec)}"
            )
        inner = create_graph or trace_state.current() is not None
        with set_grad_enabled(True):
            grads = _autograd(out_leaves, wrapped, ct_leaves, inner, retain_graph)
        if not create_graph:
            grads = [g.detach() for g in grads]
        return unflatten(spec, level.unwrap_tree(grads))

    return ((results, vjp_fn, aux) if has_aux else (results, vjp_fn)), level


def _check_real(api: str, leaves: list[Any], is_input: bool) -> None:
    for i, x in enumerate(leaves):
        if isinstance(x, Tensor) and x.dtype.category == 3:
            kind = "inputs" if is_input else "outputs"
            raise RuntimeError(
                f"{api}: Expected all {kind} to be real but received complex tensor at "
                f"flattened input idx: {i}"
            )


def _bases(tensors: list[Any], chunk_size: int | None) -> Iterator[list[Any]]:
    """The standard basis of the tensors' concatenated elements, ``chunk_size`` rows at a
    time: per tensor, a (rows, *its shape) block (torch's _chunked_standard_basis_for_)."""
    from ..runtime.creation import eye

    numels = [x.numel() for x in tensors]
    total = sum(numels)
    size = total if not chunk_size or chunk_size >= total else chunk_size
    for start in range(0, total, size) if total else [0]:
        rows = min(size, total - start)
        ident: Any = eye(total, dtype=tensors[0].dtype)
        ident = ident[start : start + rows]
        blocks, offset = [], 0
        for x, n in zip(tensors, numels, strict=True):
            block = ident[:, offset : offset + n].to(x.dtype)
            blocks.append(block.reshape(rows, *tuple(x.shape)))
            offset += n
        yield blocks


def jacrev(
    func: Callable[..., Any],
    argnums: Argnums = 0,
    *,
    has_aux: bool = False,
    chunk_size: int | None = None,
    _preallocate_and_copy: bool = False,
) -> Callable[..., Any]:
    """The Jacobian of ``func`` with respect to ``argnums`` by reverse mode: one vmapped
    vector-Jacobian product over the output's standard basis (``torch.func.jacrev``)."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        from .vmap import vmap

        _check_real("jacrev", flatten(args)[0], True)
        found, level = _vjp(func, args, argnums, has_aux)
        output, vjp_fn = found[0], found[1]
        out_leaves, out_spec = flatten(output)
        _check_real("jacrev", out_leaves, False)
        primal_leaves, primal_spec = flatten(_slice(args, _check_argnums(argnums, len(args))))
        per_input: list[list[Any]] = [[] for _ in primal_leaves]
        for basis in _bases(out_leaves, chunk_size):
            rows = unflatten(out_spec, basis)
            if chunk_size == 1:
                got = [g.unsqueeze(0) for g in flatten(vjp_fn(_squeezed(rows)))[0]]
            else:
                got = flatten(vmap(vjp_fn)(rows))[0]
            for k, g in enumerate(got):
                per_input[k].append(g)
        numels = [o.numel() for o in out_leaves]
        stacked = level.unwrap_tree([_cat(chunks) for chunks in per_input])
        # per output: its rows of each input's stacked vjps, shaped (*out.shape, *in.shape)
        table = [
            [
                _rows(s, numels, j).reshape(*tuple(o.shape), *tuple(p.shape))
                for s, p in zip(stacked, primal_leaves, strict=True)
            ]
            for j, o in enumerate(out_leaves)
        ]
        jac = unflatten(out_spec, [unflatten(primal_spec, row) for row in table])
        return (jac, found[2]) if has_aux else jac

    return wrapper


def _squeezed(tree: Any) -> Any:
    leaves, spec = flatten(tree)
    return unflatten(spec, [x.squeeze(0) for x in leaves])


def _cat(chunks: list[Any]) -> Any:
    from ..runtime.functional import cat

    return chunks[0] if len(chunks) == 1 else cat(chunks, 0)


def _rows(stacked: Any, numels: list[int], j: int) -> Any:
    start = sum(numels[:j])
    return stacked[start : start + numels[j]]


def jacfwd(
    func: Callable[..., Any],
    argnums: Argnums = 0,
    has_aux: bool = False,
    *,
    randomness: str = "error",
) -> Callable[..., Any]:
    """The Jacobian of ``func`` with respect to ``argnums`` by forward mode: one vmapped
    Jacobian-vector product over the inputs' standard basis (``torch.func.jacfwd``)."""

    @functools.wraps(func)
    def wrapper(*args: Any) -> Any:
        from .jvp import jvp
        from .vmap import vmap

        _check_real("jacfwd", flatten(args)[0], True)
        nums = _check_argnums(argnums, len(args))
        primals = _slice(args, nums)
        primal_leaves, primal_spec = flatten(primals)
        (basis,) = list(_bases(primal_leaves, None))
        numels = [p.numel() for p in primal_leaves]

        def push(*tangent_leaves: Any) -> Any:
            tangents = unflatten(primal_spec, list(tangent_leaves))

            def inner(*diff: Any) -> Any:
                new = diff[0] if isinstance(nums, int) else diff
                return func(*_replace(args, new, nums))

            diff = (primals,) if isinstance(nums, int) else tuple(primals)
            tans = (tangents,) if isinstance(nums, int) else tuple(tangents)
            found = jvp(inner, diff, tans, has_aux=has_aux)
            _check_real("jacfwd", flatten(found[0])[0], False)
            return (found[1], found[2]) if has_aux else found[1]

        results = vmap(push, randomness=randomness)(*basis)
        aux = None
        if has_aux:
            results, aux = results
            aux_leaves, aux_spec = flatten(aux)
            aux = unflatten(aux_spec, [a[0] for a in aux_leaves])
        out_leaves, out_spec = flatten(results)
        per_output = []
        for jac in out_leaves:
            moved = jac.movedim(0, -1)
            blocks = moved.split(numels, dim=-1)
            row = [
                b.squeeze(-1) if p.dim() == 0 else b.unflatten(-1, tuple(p.shape))
                for b, p in zip(blocks, primal_leaves, strict=True)
            ]
            per_output.append(unflatten(primal_spec, row))
        jac_tree = unflatten(out_spec, per_output)
        return (jac_tree, aux) if has_aux else jac_tree

    return wrapper


def hessian(func: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """``jacfwd(jacrev(func, argnums), argnums)``: forward-over-reverse, as torch.func."""
    return jacfwd(jacrev(func, argnums), argnums)


backward.BATCHED = batched_grad  # autograd.grad(is_grads_batched=True)
