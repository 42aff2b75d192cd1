"""`python -m nncore` runs the command line."""

import sys

from nncore.cli import main

sys.exit(main())
