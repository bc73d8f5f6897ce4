"""Where the repository's parts are."""

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

import yaml

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


def load_document(path: Path) -> tuple[Any, list[str]]:
    """A JSON (by its suffix) or YAML file's content, or None and why it cannot be checked."""
    if not path.is_file():
        return None, [f"{rel(path)}: missing"]
    language = "JSON" if path.suffix == ".json" else "YAML"
    try:
        text = path.read_text(encoding="utf-8")
        return (json.loads(text) if language == "JSON" else yaml.safe_load(text)), []
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        return None, [f"{rel(path)}: not valid {language} ({err})"]


def load_mapping(path: Path, what: str = "a mapping") -> tuple[dict[str, Any] | None, list[str]]:
    """``load_document``, and a problem ("must be <what>") when the top level is not a mapping."""
    data, problems = load_document(path)
    if data is not None and not isinstance(data, dict):
        return None, [f"{rel(path)}: must be {what}"]
    return data, problems


def check_mapping(path: Path, rules: Callable[[dict[str, Any], str], list[str]], what: str = "a mapping") -> list[str]:
    """Why the file cannot be checked (``load_mapping``), or what ``rules(data, where)`` finds wrong in it."""
    data, problems = load_mapping(path, what)
    return problems if data is None else rules(data, rel(path))
