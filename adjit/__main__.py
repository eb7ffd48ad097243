"""``python -m adjit``: the same as the ``adjit`` command."""

import sys

from adjit.cli import main

sys.exit(main())
