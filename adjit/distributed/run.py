"""``adjit run -n N script.py``: start N ranks of a script under the mpich wheel's mpiexec."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from adjit.distributed._mpi import MPI_EXTRA


def find_mpiexec() -> str | None:
    """The mpiexec next to this Python (the mpich wheel's), else the first on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec")


def command(nproc: int, script: str, args: Sequence[str], mpiexec: str) -> list[str]:
    return [mpiexec, "-n", str(nproc), sys.executable, script, *args]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--nproc", type=int, default=2, metavar="N", help="number of ranks (2)")
    p.add_argument("script", help="the Python script every rank runs")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script")


def main(args: argparse.Namespace) -> int:
    """Run the ranks; the exit code is mpiexec's (non-zero when any rank failed)."""
    if args.nproc < 1:
        print(f"adjit run: -n must be at least 1, got {args.nproc}", file=sys.stderr)
        return 2
    if not os.path.isfile(args.script):
        print(f"adjit run: no such file: {args.script}", file=sys.stderr)
        return 2
    mpiexec = find_mpiexec()
    if mpiexec is None:
        print(
            "adjit run: mpiexec not found (next to this Python or on PATH): "
            f"{MPI_EXTRA} installs the mpich wheel's; on a cluster run your site's "
            "mpiexec or srun directly",
            file=sys.stderr,
        )
        return 127
    try:
        return subprocess.call(command(args.nproc, args.script, args.args, mpiexec))
    except KeyboardInterrupt:
        return 130


def cli(argv: Sequence[str] | None = None) -> int:
    """``python -m adjit.distributed.run -n N script.py [args...]``."""
    p = argparse.ArgumentParser(prog="python -m adjit.distributed.run", description=__doc__)
    add_arguments(p)
    return main(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(cli())
