"""``hydro-fleet-bridge``: run the bridge, or one of its maintenance commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable
import logging
from pathlib import Path
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import Bridge
    from .sensors import VoltageSource
    from .settings import BridgeConfig

_LOGGER = logging.getLogger("pi_bridge")
_COMMANDS = ("run", "pumps-off", "check-config", "provision")
_DEFAULT_STATE_DIR = Path("/var/lib/hydro-fleet")


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
    from .provision import add_arguments

    add_arguments(sub.add_parser("provision", help="create broker credentials, ACL and config files for nodes"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["pumps-off"]:
        # The safety path stays light: no pydantic, no asyncio (see safe_off.py).
        from .safe_off import main as pumps_off

        return pumps_off(argv[1:])
    from .config import dump, load_config, load_config_in_child
    from .settings import ConfigError

    if not argv or (argv[0] not in _COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "provision":
            from .provision import run_provision

            return run_provision(args)
        # The long-running bridge validates in a child process and never holds pydantic (config.py says why).
        load = load_config_in_child if args.command == "run" else load_config
        config = load(
            args.config,
            {
                "simulate": args.simulate,
                "node_id": args.node_id,
                "broker.host": args.broker,
                "broker.port": args.port,
                "sample_interval": args.interval,
            },
        )
        if args.command == "check-config":
            print(dump(config))  # secrets as '**********'
            print(f"effective node id: {config.effective_node_id}")
            return 0
        return _run(config)
    except ConfigError as err:
        print(f"hydro-fleet-bridge: {err}", file=sys.stderr)
        return 2


def _use_pin_factory(config: BridgeConfig) -> None:
    """In --simulate inputs (a float switch) are mock pins; on a Pi gpiozero picks lgpio or RPi.GPIO.

    The relays are not the bridge's: its pump guard holds them (``guard.py``).
    """
    if config.simulate:
        from gpiozero import Device
        from gpiozero.pins.mock import MockFactory

        Device.pin_factory = MockFactory()


def _state_dir(config: BridgeConfig) -> tuple[Path, bool]:
    """(state directory, whether it is a throwaway temp dir)."""
    import tempfile

    if config.state_dir is not None:
        return config.state_dir, False
    if config.simulate:
        # A simulated node without a configured state_dir keeps nothing between runs, and two of them
        # on one machine never share a queue or plans.
        return Path(tempfile.mkdtemp(prefix=f"hydro-fleet-{config.effective_node_id}-")), True
    return _DEFAULT_STATE_DIR, False


def _build(config: BridgeConfig, state_dir: Path, *, throwaway_state: bool = False) -> Bridge:
    from .app import Bridge
    from .calibration import CalibrationStore
    from .sensors import FloatSwitch, SensorArray, SimulatedSource
    from .temperature import TemperatureReader

    _use_pin_factory(config)
    state_dir.mkdir(parents=True, exist_ok=True)
    calibration = CalibrationStore(state_dir, config.probes)
    probes = config.probes
    float_switch = None
    if probes.water_level.mode == "float_switch":
        assert probes.water_level.pin is not None
        float_switch = FloatSwitch(probes.water_level.pin, probes.water_level.low_when_closed)
    if config.simulate:
        from .simulation import PlantModel

        plant = PlantModel(seed=config.effective_node_id)
        source: VoltageSource = SimulatedSource(plant)
        # The simulated plant's own water, unless a temperature source is configured.
        temperature: Callable[[], float] = plant.current_water_temperature
        if probes.water_temperature is not None:
            temperature = TemperatureReader(probes.temperature).read
    else:
        from .adc import Ads1115Source

        source = Ads1115Source(probes)
        temperature = TemperatureReader(probes.temperature).read
    sensors = SensorArray(probes, source, calibration, temperature, float_switch)
    return Bridge(config, sensors, state_dir, throwaway_state=throwaway_state)


def _run(config: BridgeConfig) -> int:
    import asyncio
    import shutil
    import signal

    from .settings import ConfigError

    state_dir, throwaway = _state_dir(config)
    if throwaway:
        _LOGGER.info("simulated node state in %s (set state_dir to keep it between runs)", state_dir)
    try:
        bridge = _build(config, state_dir, throwaway_state=throwaway)
    except OSError as err:
        raise ConfigError(f"cannot use state_dir {state_dir}: {err.strerror}") from None

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

    try:
        asyncio.run(runner())
    finally:
        if throwaway:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0
