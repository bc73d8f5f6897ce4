"""Small JSON files in the state directory, written so a crash never leaves half a file."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)


def read_json(path: Path) -> dict[str, Any]:
    """The object stored at ``path``; {} when missing, and {} with one warning when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        _LOGGER.warning("ignoring unreadable %s: %s", path, err)
        return {}
    if not isinstance(data, dict):
        _LOGGER.warning("ignoring %s: not a JSON object", path)
        return {}
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` atomically: temp file, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
