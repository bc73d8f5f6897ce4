"""``hydro-fleet-bridge``: run the bridge, or one of its maintenance commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
import signal
import sys

from .config import BridgeConfig, ConfigError, load_config

_LOGGER = logging.getLogger("pi_bridge")
_COMMANDS = ("run", "pumps-off", "check-config")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hydro-fleet-bridge", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    for name, help_text in (
        ("run", "run the bridge (the default)"),
        ("pumps-off", "drive every configured pump off and exit (for systemd ExecStopPost)"),
        ("check-config", "validate the config file and print it, secrets masked"),
    ):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", type=Path, help="YAML or TOML config file")
        cmd.add_argument("--simulate", action="store_true", default=None, help="simulated probes and pumps")
        cmd.add_argument("--node-id", help="node id (default: from the hostname)")
        cmd.add_argument("--broker", help="MQTT broker host")
        cmd.add_argument("--port", type=int, help="MQTT broker port")
        cmd.add_argument("--interval", type=float, help="seconds between samples")
        cmd.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config, {
            "simulate": args.simulate, "node_id": args.node_id, "broker.host": args.broker,
            "broker.port": args.port, "sample_interval": args.interval,
        })
        if args.command == "check-config":
            print(config.model_dump_json(indent=2))  # SecretStr dumps as '**********'
            print(f"effective node id: {config.effective_node_id}")
            return 0
        if args.command == "pumps-off":
            _use_pin_factory(config)
            from .pumps import drive_all_off

            drive_all_off(config.pumps)
            _LOGGER.info("all %d pumps driven off", len(config.pumps))
            return 0
        return _run(config)
    except ConfigError as err:
        print(f"hydro-fleet-bridge: {err}", file=sys.stderr)
        return 2


def _use_pin_factory(config: BridgeConfig) -> None:
    """In --simulate the relays are gpiozero mock pins; on a Pi gpiozero picks lgpio or RPi.GPIO."""
    if config.simulate:
        from gpiozero import Device
        from gpiozero.pins.mock import MockFactory

        Device.pin_factory = MockFactory()


def _build(config: BridgeConfig):  # type: ignore[no-untyped-def]
    from .app import Bridge
    from .sensors import SensorArray, SimulatedSource
    from .simulation import PlantModel

    _use_pin_factory(config)
    calibration: dict[str, float] = {}
    if not config.simulate:
        raise ConfigError("hardware probes are not configured; run with --simulate")
    source = SimulatedSource(PlantModel(seed=config.effective_node_id), calibration)
    return Bridge(config, SensorArray(source, calibration))


def _run(config: BridgeConfig) -> int:
    bridge = _build(config)

    async def runner() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await bridge.run()
        except asyncio.CancelledError:
            _LOGGER.info("stopped; pumps are off")

    asyncio.run(runner())
    return 0
