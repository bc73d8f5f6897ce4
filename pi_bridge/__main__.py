"""``python -m pi_bridge`` is ``hydro-fleet-bridge``."""

from .cli import main

raise SystemExit(main())
