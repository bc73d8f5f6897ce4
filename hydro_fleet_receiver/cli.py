"""``hydro-fleet-receiver`` / ``python -m hydro_fleet_receiver``: run the receiver as a process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
from pathlib import Path
import signal
import ssl
import sys

from aiohttp import web

from . import __version__
from .app import create_app
from .options import Options, OptionsError, load_options
from .publisher import MqttSettings
from .server import ReceiverRunner

_LOGGER = logging.getLogger("hydro_fleet_receiver")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hydro-fleet-receiver", description=__doc__)
    parser.add_argument(
        "--options",
        type=Path,
        required=True,
        help="JSON file with exactly the add-on's option keys (/data/options.json)",
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="where the database and JWT key live")
    parser.add_argument(
        "--database",
        help="postgresql://USER@HOST:PORT/DB to store in PostgreSQL (replicas may share it; else the "
        "database_url option, else SQLite in --data-dir); put a password in PGPASSWORD, not here",
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all)")  # noqa: S104
    parser.add_argument("--port", type=int, help="override the 'port' option")
    parser.add_argument("--ssl-dir", type=Path, default=Path("/ssl"), help="where certfile/keyfile are")
    parser.add_argument(
        "--mqtt-host", help="broker host, or cluster members host:port,host:port tried in turn (else mqtt_host)"
    )
    parser.add_argument("--mqtt-port", type=int, help="broker port (else mqtt_port, else 1883)")
    parser.add_argument("--mqtt-username", help="broker user (else mqtt_username)")
    parser.add_argument(
        "--mqtt-password-env",
        default="MQTT_PASSWORD",
        help="environment variable holding the broker password (default MQTT_PASSWORD), "
        "so it never shows in the process list",
    )
    parser.add_argument("--mqtt-password", help="broker password (prefer --mqtt-password-env)")
    parser.add_argument("--mqtt-tls", action="store_true", help="connect to the broker with TLS")
    parser.add_argument("--metrics-interval", type=float, default=10.0, help="seconds between receiver metrics states")
    return parser


def mqtt_settings(args: argparse.Namespace, options: Options) -> MqttSettings | None:
    """Command line first (the run script passes the Supervisor's service), then the options."""
    host = args.mqtt_host or options.mqtt_host
    if not host:
        return None
    password = args.mqtt_password or os.environ.get(args.mqtt_password_env) or options.mqtt_password
    return MqttSettings(
        host=host,
        port=args.mqtt_port or options.mqtt_port or 1883,
        username=args.mqtt_username or options.mqtt_username,
        password=password or None,
        tls=args.mqtt_tls,
    )


def ssl_context(options: Options, ssl_dir: Path) -> ssl.SSLContext | None:
    if not options.ssl:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(ssl_dir / options.certfile, ssl_dir / options.keyfile)
    return context


async def serve(args: argparse.Namespace, options: Options) -> None:
    mqtt = mqtt_settings(args, options)
    if mqtt is None:
        _LOGGER.warning("no MQTT broker configured: data is stored and queued, not published")
    if not options.allowed_ips:
        _LOGGER.warning("allowed_ips is empty: any address may call the receiver (signature still required)")
    app = create_app(options, args.data_dir, mqtt, metrics_interval=args.metrics_interval, database=args.database)
    runner = ReceiverRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    port = args.port or options.port
    site = web.TCPSite(runner, args.host, port, ssl_context=ssl_context(options, args.ssl_dir), reuse_address=True)
    await site.start()
    # Everything created so far (modules, the app, pydantic's validators) lives as long as
    # the process: move it out of the cyclic GC's reach, or every full collection walks
    # all of it again (tens of milliseconds on a small core, a latency spike per sync caught
    # in it). Objects created later are collected as usual.
    gc.freeze()
    _LOGGER.info(
        "receiver %s listening on %s:%s (%s)", __version__, args.host, port, "https" if options.ssl else "http"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    _LOGGER.info("stopping")
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        options = load_options(args.options)
    except OptionsError as err:
        print(f"hydro-fleet-receiver: {err}", file=sys.stderr)
        return 2
    logging.basicConfig(level=options.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # aiomqtt/paho at debug would print CONNECT packets; keep them at info or above.
    logging.getLogger("mqtt").setLevel(max(logging.INFO, logging.getLogger().level))
    try:
        asyncio.run(serve(args, options))
    except (OSError, ssl.SSLError) as err:
        _LOGGER.error("cannot start: %s", err)  # noqa: TRY400  (one clear line, no traceback)
        return 1
    with contextlib.suppress(Exception):
        logging.shutdown()
    return 0
