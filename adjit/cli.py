"""The ``adjit`` command line: ``adjit demo`` runs the main job end to end."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def demo(args: argparse.Namespace) -> int:
    """Run the autograd tutorials' examples eagerly and show what they print."""
    import adjit
    from adjit.tutorials import EXAMPLES

    names = args.only or list(EXAMPLES)
    for name in names:
        example = EXAMPLES[name]
        title = (example.__doc__ or name).strip().splitlines()[0]
        print(f"== {name}: {title}")
        example(adjit)
        print()
    print(f"ran {len(names)} tutorial examples eagerly with adjit {adjit.__version__}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="adjit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="run the tutorial examples and print their results")
    p.add_argument("--only", nargs="*", help="names of examples to run")
    p.set_defaults(func=demo)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
