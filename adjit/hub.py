"""``torch.hub``: the cache directory, downloads and checkpoints from URLs."""

# Downloads go through ``urllib`` (any URL it opens, ``file://`` included). Loading a GitHub
# repository's ``hubconf.py`` is refused: its code imports ``torch``, not adjit.

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import warnings
import zipfile
from typing import Any
from urllib.parse import urlparse
from urllib.request import Request, urlopen

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load"]
__all__ += ["load_state_dict_from_url", "set_dir"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
ENV_TORCH_HOME = "TORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
READ_DATA_CHUNK = 128 * 1024
_hub_dir: str | None = None


def _get_torch_home() -> str:
    default = os.path.join(os.getenv(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR), "torch")
    return os.path.expanduser(os.getenv(ENV_TORCH_HOME, default))


def get_dir() -> str:
    """The hub directory: ``set_dir``'s, else ``$TORCH_HOME/hub`` (default ~/.cache/torch/hub)."""
    if os.getenv("TORCH_HUB"):
        warnings.warn("TORCH_HUB is deprecated, please use env TORCH_HOME instead", stacklevel=2)
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_get_torch_home(), "hub")


def set_dir(d: str | os.PathLike[str]) -> None:
    global _hub_dir
    _hub_dir = os.path.expanduser(d)


def download_url_to_file(
    url: str, dst: str, hash_prefix: str | None = None, progress: bool = True
) -> None:
    """Download ``url`` to ``dst`` (through a temporary file beside it), checking the SHA256
    prefix when given. ``progress`` bars are not drawn."""
    dst = os.path.expanduser(dst)
    dst_dir = os.path.dirname(dst) or "."
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(dst) + ".", suffix=".partial", dir=dst_dir)
    try:
        with (
            os.fdopen(fd, "wb") as f,
            urlopen(Request(url, headers={"User-Agent": "torch.hub"})) as u,
        ):  # noqa: E501
            sha256 = hashlib.sha256() if hash_prefix is not None else None
            while buffer := u.read(READ_DATA_CHUNK):
                f.write(buffer)
                if sha256 is not None:
                    sha256.update(buffer)
        if sha256 is not None and hash_prefix is not None:
            digest = sha256.hexdigest()
            if digest[: len(hash_prefix)] != hash_prefix:
                raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got "{digest}")')
        shutil.move(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_state_dict_from_url(
    url: str,
    model_dir: str | None = None,
    map_location: Any = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
    weights_only: bool = False,
) -> dict[str, Any]:
    """``torch.load`` of the checkpoint at ``url``, downloaded once into ``model_dir`` (default
    ``get_dir()/checkpoints``); a file already there is used as it is."""
    from adjit.io import load as _load

    if os.getenv("TORCH_MODEL_ZOO"):
        warnings.warn(
            "TORCH_MODEL_ZOO is deprecated, please use env TORCH_HOME instead", stacklevel=2
        )
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name if file_name is not None else os.path.basename(urlparse(url).path)
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
        match = HASH_REGEX.search(filename) if check_hash else None
        download_url_to_file(url, cached_file, match.group(1) if match else None, progress)
    if _is_legacy_zip_format(cached_file):
        cached_file = _extract_legacy_zip(cached_file, model_dir)
    return _load(cached_file, map_location=map_location, weights_only=weights_only)


def _is_legacy_zip_format(filename: str) -> bool:
    if zipfile.is_zipfile(filename):
        with zipfile.ZipFile(filename) as zf:
            infolist = zf.infolist()
        return len(infolist) == 1 and not infolist[0].is_dir()
    return False


def _extract_legacy_zip(filename: str, model_dir: str) -> str:
    """PyTorch < 1.6's zip of one checkpoint file: extracted beside it (FutureWarning)."""
    warnings.warn(
        "Falling back to the old format < 1.6. This support will be deprecated in favor of "
        "default zipfile format introduced in 1.6. Please redo torch.save() to save it in the "
        "new zipfile format.",
        FutureWarning,
        stacklevel=3,
    )
    with zipfile.ZipFile(filename) as f:
        (member,) = f.infolist()
        f.extractall(model_dir)
    return os.path.join(model_dir, member.filename)


def _refuse(name: str) -> NotImplementedError:
    return NotImplementedError(
        f"torch.hub.{name}: adjit cannot run a repository's hubconf.py (its code imports "
        "torch, not adjit); load the weights with torch.hub.load_state_dict_from_url and build "
        "the model in adjit"
    )


def list(github: str, force_reload: bool = False, skip_validation: bool = False,
         trust_repo: Any = None, verbose: bool = True) -> Any:  # fmt: skip
    raise _refuse("list")


def help(github: str, model: str, force_reload: bool = False, skip_validation: bool = False,
         trust_repo: Any = None) -> Any:  # fmt: skip
    raise _refuse("help")


def load(repo_or_dir: str, model: str, *args: Any, source: str = "github",
         trust_repo: Any = None, force_reload: bool = False, verbose: bool = True,
         skip_validation: bool = False, **kwargs: Any) -> Any:  # fmt: skip
    raise _refuse("load")
