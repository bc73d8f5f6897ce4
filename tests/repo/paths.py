"""Where the repository's parts are."""

from pathlib import Path

ROOT = Path(__file__).parents[2]
INTEGRATION = ROOT / "custom_components" / "hydro_fleet"
BLUEPRINTS = ROOT / "blueprints"
ADDON = ROOT / "addon"
# The add-on ships this package; where it is, the add-on folder must be too.
RECEIVER_PACKAGE = ROOT / "hydro_fleet_receiver"


def rel(path: Path) -> str:
    """A path as the repository names it, for messages."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)
