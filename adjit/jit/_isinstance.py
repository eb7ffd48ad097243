"""``torch.jit.isinstance``: isinstance with TorchScript's container types (List[int], ...)."""

from __future__ import annotations

import collections.abc
import types
import typing
import warnings
from typing import Any, Union, get_args, get_origin

__all__ = ["isinstance"]

_isinstance = isinstance  # the builtin, before this module's name shadows it

_RAW_NAMES: dict[Any, str] = {dict: "dict", list: "list", tuple: "tuple", typing.Dict: "Dict",  # noqa: UP006
                              typing.List: "List", typing.Optional: "Optional",  # noqa: UP006
                              typing.Tuple: "Tuple"}  # noqa: UP006  # fmt: skip


def _check_args_exist(target_type: Any) -> None:
    name = _RAW_NAMES.get(target_type)
    if name is None:
        return
    if name.endswith("ict"):
        raise RuntimeError(
            f"Attempted to use {name} without contained types. Please add contained type, "
            f"e.g. {name}[int, int]"
        )
    raise RuntimeError(
        f"Attempted to use {name} without a contained type. Please add a contained type, "
        f"e.g. {name}[int]"
    )


def _check_empty(obj: Any) -> None:
    if obj == [] or obj == {} or obj == ():
        warnings.warn(
            "The inner type of a container is lost when calling torch.jit.isinstance in eager "
            "mode. For example, List[int] would become list and therefore falsely return True "
            "for List[float] or List[str].",
            stacklevel=3,
        )


def _element(el: Any, el_type: Any) -> bool:
    return _container(el, el_type) if get_origin(el_type) else _isinstance(el, el_type)


def _container(obj: Any, target_type: Any) -> bool:
    """PyTorch's container_checker (its order of checks, its warnings)."""
    origin = get_origin(target_type)
    _check_args_exist(target_type)
    if origin is None:
        return False
    args = get_args(target_type)
    if origin is list:
        _check_empty(obj)
        return _isinstance(obj, list) and all(_element(el, args[0]) for el in obj)
    if origin is dict:
        _check_empty(obj)
        if not _isinstance(obj, dict):
            return False
        return all(_isinstance(k, args[0]) and _element(v, args[1]) for k, v in obj.items())
    if origin is tuple:
        _check_empty(obj)
        if not _isinstance(obj, tuple) or len(obj) != len(args):
            return False
        return all(_element(el, t) for el, t in zip(obj, args, strict=True))
    if origin is Union or issubclass(origin, types.UnionType):  # also Optional
        if obj is None:
            return True
        for t in args:
            if get_origin(t):
                return _container(obj, t)  # (PyTorch's: the first container type decides)
            if _isinstance(obj, t):
                return True
    return False


def isinstance(obj: Any, target_type: Any) -> bool:  # noqa: A001 - PyTorch's name
    """``isinstance`` that also checks container element types (``List[int]``,
    ``Dict[str, Tensor]``, ``Optional[...]``, tuples of types)."""
    if _isinstance(target_type, collections.abc.Container):
        if not _isinstance(target_type, tuple):
            raise RuntimeError(
                "The second argument to `torch.jit.isinstance` must be a type or a tuple of types"
            )
        return any(isinstance(obj, t) for t in target_type)
    if get_origin(target_type):
        return _container(obj, target_type)
    _check_args_exist(target_type)
    return _isinstance(obj, target_type)
