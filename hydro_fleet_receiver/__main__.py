"""Entry point: ``python -m hydro_fleet_receiver``."""

import sys

from .cli import main

sys.exit(main())
