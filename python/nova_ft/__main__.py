"""`python -m nova_ft` runs the nova-ft command line."""

import sys

from .cli import main

sys.exit(main())
