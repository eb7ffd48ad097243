"""``python -m adjit.benchmarks``: the same as ``adjit bench``."""

import sys

from .run import cli

sys.exit(cli())
