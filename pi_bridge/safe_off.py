"""``hydro-fleet-bridge pumps-off``: the fast, forgiving path that drives every relay off.

systemd runs this after every exit of the bridge (``ExecStopPost``), including SIGKILL
and watchdog kills, when a relay may still be on. It must be quick and must not give
up over a config problem elsewhere in the file, so it reads only ``pumps[].pin``,
``pumps[].active_high``, ``simulate`` and ``state_dir`` and imports neither pydantic
nor asyncio. In ``--simulate`` the relays are the files ``relays.FileRelay`` writes,
so this writes "0" to them directly (gpiozero alone takes most of a second to import).
The pump guard (``guard.py``) does the same when its bridge dies; this is the layer under it
for when both are gone.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
import sys
import tomllib
from typing import Any

from .relays import open_relay

_LOGGER = logging.getLogger("pi_bridge")
_DEFAULT_PIN = 17


def _pumps(data: dict[str, Any]) -> list[tuple[int, bool]]:
    pumps = data.get("pumps")
    if pumps is None:
        return [(_DEFAULT_PIN, True)]
    if not isinstance(pumps, list):
        raise ValueError("key 'pumps' must be a list")  # noqa: TRY004  (one error type for the caller)
    out = []
    for index, pump in enumerate(pumps):
        pin = pump.get("pin", _DEFAULT_PIN) if isinstance(pump, dict) else None
        if not isinstance(pin, int) or isinstance(pin, bool) or not 0 <= pin <= 27:
            raise ValueError(f"key 'pumps.{index}.pin' must be a GPIO number 0..27")
        out.append((pin, bool(pump.get("active_high", True))))
    return out


def _load(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    import yaml

    return yaml.safe_load(text) or {}


def drive_off(pins: list[tuple[int, bool]], simulate: bool, state_dir: Path | None) -> int:
    """Drive each (pin, active_high) to its off level and release it; returns how many."""
    if simulate and state_dir is None:
        # Such a node keeps its relays in a temporary state_dir that its guard removes when the bridge ends.
        _LOGGER.info("simulated pumps without a state_dir end with their bridge's guard process; nothing to do")
        return 0
    for pin, active_high in pins:
        open_relay(pin, active_high, simulate, state_dir).close()
    return len(pins)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="hydro-fleet-bridge pumps-off")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--simulate", action="store_true", default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args, _ = parser.parse_known_args(argv)  # the run flags (--broker, --interval...) are accepted and ignored
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        data = _load(args.config)
        pins = _pumps(data if isinstance(data, dict) else {"pumps": "not a mapping"})
        simulate = bool(args.simulate if args.simulate is not None else data.get("simulate", False))
        state_dir = data.get("state_dir")
        if state_dir is None and not simulate:
            state_dir = "/var/lib/hydro-fleet"
        count = drive_off(pins, simulate, Path(state_dir) if state_dir else None)
    except (OSError, ValueError, ImportError) as err:
        print(f"hydro-fleet-bridge pumps-off: {args.config}: {err}", file=sys.stderr)
        return 2
    _LOGGER.info("all %d pumps driven off", count)
    return 0
