"""torch.torch_version: TorchVersion, a version string that compares as a PEP 440 version."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

from adjit.version import __version__ as internal_version

__all__ = ["TorchVersion"]

# PEP 440's version pattern (as the packaging library's VERSION_PATTERN)
_PATTERN = re.compile(
    r"""^\s*v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_\.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_\.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_\.]?(?P<post_l>post|rev|r)[-_\.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_\.]?(?P<dev_l>dev)[-_\.]?(?P<dev_n>[0-9]+)?)?
    (?:\+(?P<local>[a-z0-9]+(?:[-_\.][a-z0-9]+)*))?
    \s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_SPELLINGS = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc", "rev": "post"}
_SPELLINGS["r"] = "post"


class InvalidVersion(ValueError):
    """A string that is not a PEP 440 version (then TorchVersion compares as a plain str)."""


def _letter(letter: str | None, number: str | None) -> tuple[str, int] | None:
    """A pre/post/dev segment as (normalized letter, number); a bare number is a post release."""
    if letter:
        letter = letter.lower()
        return _SPELLINGS.get(letter, letter), int(number or 0)
    return ("post", int(number)) if number else None


def _key(text: str) -> tuple[Any, ...]:
    """PEP 440's sort key of ``text`` as the packaging library orders versions (tuples only:
    a missing segment is encoded to sort where packaging's +/-infinity puts it)."""
    match = _PATTERN.search(text)
    if not match:
        raise InvalidVersion(f"Invalid version: '{text}'")
    release = tuple(int(i) for i in match.group("release").split("."))
    release = tuple(reversed(list(itertools.dropwhile(lambda x: x == 0, reversed(release)))))
    pre = _letter(match.group("pre_l"), match.group("pre_n"))
    post = _letter(match.group("post_l"), match.group("post_n1") or match.group("post_n2"))
    dev = _letter(match.group("dev_l"), match.group("dev_n"))
    if pre is None:  # 1.0.dev0 < 1.0a0 < 1.0; 1.0.post0.dev0 keeps its post place
        pre_key: tuple[Any, ...] = (0, "", 0) if post is None and dev is not None else (2, "", 0)
    else:
        pre_key = (1, *pre)
    local = match.group("local")
    local_key: tuple[Any, ...] = (0,)
    if local is not None:  # alphanumeric parts before numeric ones; shorter first
        parts = re.split(r"[\._-]", local)
        local_key = (1, tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower()) for p in parts))
    epoch = int(match.group("epoch") or 0)
    post_key = (0, 0) if post is None else (1, post[1])
    dev_key = (1, 0) if dev is None else (0, dev[1])
    return epoch, release, pre_key, post_key, dev_key, local_key


def _is_version(value: object) -> bool:
    """A packaging ``Version`` (the library's or a vendored copy such as PyTorch's)."""
    kind = type(value)
    return kind.__name__ == "Version" and kind.__module__.endswith("packaging.version")


def _other_key(value: object) -> tuple[Any, ...]:
    """The sort key of what a TorchVersion is compared with: a version, a string or a tuple
    such as ``(2, 0)`` read as "2.0"; anything else is not a version."""
    if _is_version(value) or isinstance(value, str):
        return _key(str(value))
    if isinstance(value, Iterable):
        return _key(".".join(str(item) for item in value))
    raise InvalidVersion(value)


_COMPARE = {
    "__gt__": lambda a, b: a > b,
    "__lt__": lambda a, b: a < b,
    "__eq__": lambda a, b: a == b,
    "__ge__": lambda a, b: a >= b,
    "__le__": lambda a, b: a <= b,
}


class TorchVersion(str):
    """A str that compares with versions, strings and tuples as a version: ``v >= "2.0"``,
    ``v >= (2, 0)``; a string that is no version (``"parrot"``) compares as a str."""

    __slots__ = ()
    __hash__ = str.__hash__

    def _cmp_wrapper(self, other: Any, method: str) -> Any:
        try:
            return _COMPARE[method](_key(self), _other_key(other))
        except InvalidVersion:
            return getattr(str, method)(self, other)

    def __gt__(self, other: Any) -> Any:
        return self._cmp_wrapper(other, "__gt__")

    def __lt__(self, other: Any) -> Any:
        return self._cmp_wrapper(other, "__lt__")

    def __eq__(self, other: Any) -> Any:
        return self._cmp_wrapper(other, "__eq__")

    def __ge__(self, other: Any) -> Any:
        return self._cmp_wrapper(other, "__ge__")

    def __le__(self, other: Any) -> Any:
        return self._cmp_wrapper(other, "__le__")


__version__ = TorchVersion(internal_version)
