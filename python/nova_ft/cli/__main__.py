"""`python -m nova_ft.cli` runs the nova-ft command line."""

import sys

from . import main

sys.exit(main())
