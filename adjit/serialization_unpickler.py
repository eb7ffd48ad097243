"""A restricted unpickler for ``torch.save`` files (PyTorch's ``weights_only=True`` rules): only
allowlisted globals, each mapped to adjit's own object; no other code ever runs."""

from __future__ import annotations

import pickletools
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable
from pickle import UnpicklingError, decode_long
from struct import unpack
from sys import maxsize
from typing import Any

from adjit.serialization_rebuild import ALLOWED_GLOBALS

BLOCKED_MODULES = ["sys", "os", "posix", "nt"]  # never allowed, even when allowlisted
# PyTorch reads Python 2 names as their Python 3 ones (torch._utils IMPORT_MAPPING, NAME_MAPPING,
# the part that can name an allowlisted global)
IMPORT_MAPPING = {"__builtin__": "builtins", "copy_reg": "copyreg", "UserDict": "collections"}
NAME_MAPPING = {
    ("__builtin__", "unicode"): ("builtins", "str"),
    ("__builtin__", "long"): ("builtins", "int"),
    ("__builtin__", "basestring"): ("builtins", "str"),
    ("__builtin__", "unichr"): ("builtins", "chr"),
    ("__builtin__", "xrange"): ("builtins", "range"),
    ("__builtin__", "intern"): ("sys", "intern"),
}
_USER_GLOBALS: set[Any] = set()  # adjit.serialization.add_safe_globals


def user_globals() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for g in _USER_GLOBALS:
        if isinstance(g, tuple):
            g, name = g
            out[name] = g
        else:
            out[f"{g.__module__}.{g.__qualname__}"] = g
    return out


def _unsupported_global(full_path: str) -> str:
    if full_path.startswith("builtins"):
        rest = full_path[len("builtins") :]
        full_path = rest[1:] if rest.startswith(".") else "builtins" + rest
    return (
        f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. "
        f"Please use `torch.serialization.add_safe_globals([{full_path}])` or the "
        f"`torch.serialization.safe_globals([{full_path}])` context manager to allowlist this "
        "global if you trust this class/function."
    )


def _allowed_values(user: dict[str, Any]) -> list[Any]:
    return [*ALLOWED_GLOBALS.values(), *user.values()]


def _is_allowed(func: Any, user: dict[str, Any]) -> bool:
    return any(func is v for v in _allowed_values(user))


def _mapped(module: str, name: str) -> tuple[str, str]:
    if (module, name) in NAME_MAPPING:
        return NAME_MAPPING[(module, name)]
    return IMPORT_MAPPING.get(module, module), name


def globals_in_pickle(data: bytes) -> set[str]:
    """Every ``module.name`` a pickle's GLOBAL opcodes name (parsed, never run)."""
    found = set()
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == "GLOBAL":
            module, name = str(arg).split(" ", 1)
            found.add(".".join(_mapped(module, name)))
    return found


class Unpickler:
    """PyTorch's ``_weights_only_unpickler.Unpickler``: the opcodes of pickle protocol 2 (plus
    the harmless framing/memo/string opcodes of 3-5), globals from the allowlist only, REDUCE
    only on allowlisted callables, BUILD only on tensors, OrderedDicts and allowlisted types."""

    def __init__(self, file: Any, persistent_load: Callable[[Any], Any], encoding: str) -> None:
        self.read, self.readline = file.read, file.readline
        self.persistent_load, self.encoding = persistent_load, encoding
        self.memo: dict[int, Any] = {}
        self.user = user_globals()

    def load(self) -> Any:
        self.metastack: list[list[Any]] = []
        self.stack: list[Any] = []
        while True:
            key = self.read(1)
            if not key:
                raise EOFError
            op = key[0]
            handler = _OPS.get(op)
            if handler is None:
                raise UnpicklingError(f"Unsupported operand {op}")
            if handler(self) is _STOP:
                return self.stack.pop()

    def pop_mark(self) -> list[Any]:
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    # ---- the risky opcodes ----------------------------------------------------------------
    def _global(self, module: str, name: str) -> None:
        module, name = _mapped(module, name)
        full_path = f"{module}.{name}"
        if module in BLOCKED_MODULES:
            raise UnpicklingError(
                f"Trying to load unsupported GLOBAL {full_path} whose module {module} is blocked."
            )
        if full_path in ALLOWED_GLOBALS:
            self.stack.append(ALLOWED_GLOBALS[full_path])
        elif full_path in self.user:
            self.stack.append(self.user[full_path])
        else:
            raise UnpicklingError(_unsupported_global(full_path))

    def op_global(self) -> None:
        module = self.readline()[:-1].decode("utf-8")
        name = self.readline()[:-1].decode("utf-8")
        self._global(module, name)

    def op_stack_global(self) -> None:
        name, module = self.stack.pop(), self.stack.pop()
        if type(name) is not str or type(module) is not str:
            raise UnpicklingError("STACK_GLOBAL requires str")
        self._global(module, name)

    def op_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if cls is ALLOWED_GLOBALS["torch.nn.parameter.Parameter"]:
            self.stack.append(cls(*args))
        elif _is_allowed(cls, self.user):
            self.stack.append(cls.__new__(cls, *args))
        else:
            raise UnpicklingError(
                "Can only create new object for nn.Parameter or classes allowlisted "
                f"via `add_safe_globals` but got {cls}"
            )

    def op_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        if not _is_allowed(func, self.user):
            message = f"Trying to call reduce for unrecognized function {func}"
            if hasattr(func, "__self__"):
                message += f" which belongs to {func.__self__}"
            raise UnpicklingError(message)
        self.stack[-1] = func(*args)

    def op_build(self) -> None:
        from adjit.nn.parameter import Parameter
        from adjit.runtime.tensor import Tensor

        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) in (Tensor, Parameter):
            if state:
                raise UnpicklingError("adjit.load: tensor state (BUILD) is not supported")
        elif type(inst) is OrderedDict:
            inst.__dict__.update(state)
        elif any(type(inst) is v for v in _allowed_values(self.user)):
            if hasattr(inst, "__setstate__"):
                inst.__setstate__(state)
            else:
                slots = None
                if isinstance(state, tuple) and len(state) == 2:
                    state, slots = state
                if state:
                    inst.__dict__.update(state)
                for k, v in (slots or {}).items():
                    setattr(inst, k, v)
        else:
            raise UnpicklingError(
                "Can only build Tensor, Parameter, OrderedDict or types allowlisted "
                f"via `add_safe_globals`, but got {type(inst)}"
            )

    def op_binpersid(self) -> None:
        pid = self.stack.pop()
        if type(pid) is not tuple and type(pid) is not int:
            raise UnpicklingError(f"persistent_load id must be tuple or int, but got {type(pid)}")
        if type(pid) is tuple and len(pid) > 0 and _ascii(pid[0]) != "storage":
            raise UnpicklingError(
                f"Only persistent_load of storage is allowed, but got {type(pid[0])}"
            )
        self.stack.append(self.persistent_load(pid))

    # ---- containers -----------------------------------------------------------------------
    def op_append(self) -> None:
        item = self.stack.pop()
        if type(self.stack[-1]) is not list:
            raise UnpicklingError(f"Can only append to lists, but got {type(self.stack[-1])}")
        self.stack[-1].append(item)

    def op_appends(self) -> None:
        items = self.pop_mark()
        if type(self.stack[-1]) is not list:
            raise UnpicklingError(f"Can only extend lists, but got {type(self.stack[-1])}")
        self.stack[-1].extend(items)

    def _check_set_item_target(self, opcode: str) -> None:
        if type(self.stack[-1]) not in (dict, OrderedDict, Counter):
            raise UnpicklingError(
                f"Can only {opcode} for dict, collections.OrderedDict, "
                f"collections.Counter, but got {type(self.stack[-1])}"
            )

    def op_setitem(self) -> None:
        v, k = self.stack.pop(), self.stack.pop()
        self._check_set_item_target("SETITEM")
        self.stack[-1][k] = v

    def op_setitems(self) -> None:
        items = self.pop_mark()
        self._check_set_item_target("SETITEMS")
        for i in range(0, len(items), 2):
            self.stack[-1][items[i]] = items[i + 1]

    def op_additems(self) -> None:
        items = self.pop_mark()
        if type(self.stack[-1]) is not set:
            raise UnpicklingError(f"Can only add items to sets, but got {type(self.stack[-1])}")
        self.stack[-1].update(items)

    def op_mark(self) -> None:
        self.metastack.append(self.stack)
        self.stack = []

    def op_tuple(self) -> None:
        items = self.pop_mark()  # (first: it replaces self.stack)
        self.stack.append(tuple(items))

    def op_tuple_n(self, n: int) -> None:
        items = tuple(self.stack[len(self.stack) - n :])
        del self.stack[len(self.stack) - n :]
        self.stack.append(items)

    def op_frozenset(self) -> None:
        items = self.pop_mark()
        self.stack.append(frozenset(items))

    # ---- scalars, strings and the memo ----------------------------------------------------
    def op_binunicode(self, width: str) -> None:
        n = unpack(width, self.read(4 if width == "<I" else 8 if width == "<Q" else 1))[0]
        if n > maxsize:
            raise UnpicklingError("String is too long")
        self.stack.append(str(self.read(n), "utf-8", "surrogatepass"))

    def op_short_binstring(self) -> None:
        data = self.read(self.read(1)[0])
        self.stack.append(data if self.encoding == "bytes" else data.decode(self.encoding))

    def op_binbytes(self, width: str, size: int) -> None:
        self.stack.append(bytes(self.read(unpack(width, self.read(size))[0])))

    def op_get(self, width: str, size: int) -> None:
        self.stack.append(self.memo[unpack(width, self.read(size))[0]])

    def op_put(self, width: str, size: int) -> None:
        self.memo[unpack(width, self.read(size))[0]] = self.stack[-1]

    def op_memoize(self) -> None:
        self.memo[len(self.memo)] = self.stack[-1]

    def op_proto(self) -> None:
        proto = self.read(1)[0]
        if proto != 2:
            warnings.warn(
                f"Detected pickle protocol {proto} in the checkpoint, which was not the default "
                "pickle protocol used by `torch.load` (2).",
                stacklevel=4,
            )


_STOP = object()  # what the STOP opcode's handler returns


def _ascii(s: Any) -> Any:
    return s.decode("ascii") if isinstance(s, bytes) else s


def _push(value: Callable[[], Any]) -> Callable[[Unpickler], None]:
    return lambda u: u.stack.append(value())


def _number(fmt: str, size: int) -> Callable[[Unpickler], None]:
    return lambda u: u.stack.append(unpack(fmt, u.read(size))[0])


def _long(size: int) -> Callable[[Unpickler], None]:
    def op(u: Unpickler) -> None:
        n = u.read(1)[0] if size == 1 else unpack("<i", u.read(4))[0]
        if n < 0:
            raise UnpicklingError("LONG pickle has negative byte count")
        u.stack.append(decode_long(u.read(n)))

    return op


_OPS: dict[int, Callable[[Unpickler], Any]] = {
    ord("c"): Unpickler.op_global,
    0x93: Unpickler.op_stack_global,
    0x81: Unpickler.op_newobj,
    ord("R"): Unpickler.op_reduce,
    ord("b"): Unpickler.op_build,
    ord("Q"): Unpickler.op_binpersid,
    ord("a"): Unpickler.op_append,
    ord("e"): Unpickler.op_appends,
    ord("s"): Unpickler.op_setitem,
    ord("u"): Unpickler.op_setitems,
    0x90: Unpickler.op_additems,
    ord("("): Unpickler.op_mark,
    ord("t"): Unpickler.op_tuple,
    0x85: lambda u: u.op_tuple_n(1),
    0x86: lambda u: u.op_tuple_n(2),
    0x87: lambda u: u.op_tuple_n(3),
    0x91: Unpickler.op_frozenset,
    ord("N"): _push(lambda: None),
    0x89: _push(lambda: False),
    0x88: _push(lambda: True),
    ord(")"): _push(tuple),
    ord("]"): _push(list),
    ord("}"): _push(dict),
    0x8F: _push(set),
    ord("J"): _number("<i", 4),
    ord("K"): _number("<B", 1),
    ord("M"): _number("<H", 2),
    ord("G"): _number(">d", 8),
    0x8A: _long(1),
    0x8B: _long(4),
    ord("X"): lambda u: u.op_binunicode("<I"),
    0x8C: lambda u: u.op_binunicode("<B"),
    0x8D: lambda u: u.op_binunicode("<Q"),
    ord("U"): Unpickler.op_short_binstring,
    ord("B"): lambda u: u.op_binbytes("<I", 4),
    ord("C"): lambda u: u.op_binbytes("<B", 1),
    0x8E: lambda u: u.op_binbytes("<Q", 8),
    ord("h"): lambda u: u.op_get("<B", 1),
    ord("j"): lambda u: u.op_get("<I", 4),
    ord("q"): lambda u: u.op_put("<B", 1),
    ord("r"): lambda u: u.op_put("<I", 4),
    0x94: Unpickler.op_memoize,
    0x95: lambda u: None if u.read(8) else None,  # FRAME: a length; the frame's opcodes follow
    0x80: Unpickler.op_proto,
    ord("."): lambda u: _STOP,
}
