"""``python -m transnar``: the same as the ``transnar`` command."""

import sys

from transnar.cli import main

sys.exit(main())
