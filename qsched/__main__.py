"""``python -m qsched``: the same as the ``qsched`` command."""

import sys

from qsched.cli import main

if __name__ == "__main__":
    sys.exit(main())
