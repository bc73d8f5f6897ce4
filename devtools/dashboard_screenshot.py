"""Renders dashboards/hydro_fleet.yaml in a real Home Assistant and screenshots it with Chromium.

    scripts/setup >/dev/null && "$(scripts/setup)/bin/python" -m devtools.dashboard_screenshot

Starts Mosquitto, three simulated Pis, ``hass`` with the frontend on a free port, a
charging station and the receiver (published as the add-on would), adds the dashboard
through the WebSocket API, lets a few minutes of history accumulate, and writes
docs/dashboard-<view>.png with headless Chromium (Debian's ``chromium`` package).
Chromium gets past the login with a long-lived token placed in the frontend's token
storage over the DevTools protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from contextlib import ExitStack
import json
from pathlib import Path
import secrets
import shutil
import subprocess
import tempfile
import time

import aiohttp

from devtools import photo_history
from devtools.bridges import BridgeProcess
from devtools.homeassistant import DEMO_INTEGRATIONS, REPO, HomeAssistant
from devtools.mosquitto import Mosquitto, free_port, publish
from hydro_fleet_protocol import NodeConfig, NodeKind, SensorConfig, SensorType, State, encode

DASHBOARD = REPO / "dashboards" / "hydro_fleet.yaml"
URL_PATH = "hydro-fleet"
VIEWS = ("fleet", "photos", "history", "pumps", "stations")


def station_messages() -> list[tuple[str, bytes, bool]]:
    """A 6-slot station and the receiver, as the add-on receiver publishes them."""
    sensors = [SensorConfig("status", SensorType.TEXT, name="Status", options=("online", "offline", "maintenance"))]
    readings: dict[str, object] = {"status": "online"}
    slots = [
        ("occupied", "PB-1041", 92),
        ("occupied", "PB-1187", 64),
        ("available", None, None),
        ("occupied", "PB-0977", 23),
        ("error", None, None),
        ("available", None, None),
    ]
    for n, (status, bank, battery) in enumerate(slots, 1):
        sensors += [
            SensorConfig(
                f"slot_{n}_status", SensorType.TEXT, name=f"Slot {n} status", options=("available", "occupied", "error")
            ),
            SensorConfig(f"slot_{n}_power_bank", SensorType.TEXT, name=f"Slot {n} power bank"),
            SensorConfig(f"slot_{n}_battery", SensorType.COUNT, name=f"Slot {n} battery", unit="%"),
        ]
        readings |= {f"slot_{n}_status": status, f"slot_{n}_power_bank": bank, f"slot_{n}_battery": battery}
    station = NodeConfig(
        node_id="station-ps-001",
        kind=NodeKind.STATION,
        name="Station PS-001",
        model="Power bank station",
        sensors=tuple(sensors),
    )
    receiver = NodeConfig(
        node_id="receiver",
        kind=NodeKind.RECEIVER,
        name="Hydro Fleet receiver",
        sensors=(
            SensorConfig("success_rate", SensorType.COUNT, name="Sync success rate (last hour)", unit="%", precision=1),
            SensorConfig("accepted", SensorType.COUNT, name="Requests accepted"),
            SensorConfig("rejected", SensorType.COUNT, name="Requests rejected"),
            SensorConfig("outbox_backlog", SensorType.COUNT, name="Outbox backlog"),
        ),
    )
    now = time.time()
    messages = []
    for config, state in (
        (station, State(ts=now, seq=1, readings=readings)),
        (
            receiver,
            State(
                ts=now, seq=1, readings={"success_rate": 98.6, "accepted": 1412, "rejected": 20, "outbox_backlog": 0}
            ),
        ),
    ):
        messages += [
            (f"hydro_fleet/{config.node_id}/config", encode(config), True),
            (f"hydro_fleet/{config.node_id}/availability", b"online", True),
            (f"hydro_fleet/{config.node_id}/state", encode(state), False),
        ]
    return messages


class Browser:
    """Headless Chromium driven over the DevTools protocol.

    The CLI's --screenshot cannot log in and never waits for Home Assistant's
    websocket-driven page; over DevTools we put a token where the frontend keeps it
    (localStorage "hassTokens"), load the view and wait until its cards have rendered.
    """

    def __init__(self, hass_url: str, token: str, width: int, height: int) -> None:
        self.hass_url, self.token, self.width, self.height = hass_url, token, width, height
        self.port = free_port()
        self.profile = tempfile.TemporaryDirectory(prefix="hydro-fleet-chromium-")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            raise SystemExit("chromium is missing: apt-get install -y chromium")
        self.process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                f"--remote-debugging-port={self.port}",
                f"--user-data-dir={self.profile.name}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._id = 0
        self.console: list[str] = []

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.profile.cleanup()

    def screenshots(self, shots: dict[str, Path]) -> None:
        asyncio.run(self._screenshots(shots))

    async def _screenshots(self, shots: dict[str, Path]) -> None:
        async with aiohttp.ClientSession() as session:
            pages = await self._pages(session)
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                await self._call(ws, "Runtime.enable")
                await self._call(ws, "Log.enable")
                await self._call(
                    ws,
                    "Emulation.setDeviceMetricsOverride",
                    width=self.width,
                    height=self.height,
                    deviceScaleFactor=1,
                    mobile=False,
                )
                # Any page of HA's origin, to write the frontend's token storage there.
                await self._navigate(ws, f"{self.hass_url}/manifest.json", wait=1)
                tokens = {
                    "access_token": self.token,
                    "token_type": "Bearer",
                    "expires_in": 315360000,
                    "hassUrl": self.hass_url,
                    "clientId": f"{self.hass_url}/",
                    "expires": int((time.time() + 315360000) * 1000),
                    "refresh_token": "",
                }
                await self._call(
                    ws,
                    "Runtime.evaluate",
                    expression=f"localStorage.setItem('hassTokens', {json.dumps(json.dumps(tokens))})",
                )
                for url, path in shots.items():
                    await self._navigate(ws, url, wait=12)
                    shot = await self._call(ws, "Page.captureScreenshot", format="png")
                    path.write_bytes(base64.b64decode(shot["data"]))

    async def _pages(self, session: aiohttp.ClientSession) -> list[dict]:
        for _ in range(100):
            try:
                async with session.get(f"http://127.0.0.1:{self.port}/json") as response:
                    pages = [p for p in await response.json() if p.get("type") == "page"]
                    if pages:
                        return pages
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        raise RuntimeError("Chromium's DevTools endpoint did not come up")

    async def _navigate(self, ws: aiohttp.ClientWebSocketResponse, url: str, wait: float) -> None:
        await self._call(ws, "Page.navigate", url=url)
        # The dashboard keeps a websocket open, so "load" says little; the cards render
        # from the first state message, well within this wait on 2 cores.
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            await self._call(ws, "Runtime.evaluate", expression="1")
            await asyncio.sleep(0.5)

    async def _call(self, ws: aiohttp.ClientWebSocketResponse, method: str, **params: object) -> dict:
        self._id += 1
        await ws.send_json({"id": self._id, "method": method, "params": params})
        while True:
            message = await ws.receive_json(timeout=60)
            if message.get("method") in ("Runtime.exceptionThrown", "Runtime.consoleAPICalled", "Log.entryAdded"):
                self.console.append(json.dumps(message["params"])[:400])
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--history", type=float, default=180, help="seconds of readings before the screenshots")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--views", nargs="+", choices=VIEWS, default=list(VIEWS), help="which views to shoot")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hydro-fleet-shot-") as tmp, ExitStack() as running:
        work = Path(tmp)
        broker = Mosquitto(port=free_port(), workdir=work / "mosquitto")
        broker.start()
        running.callback(broker.stop)
        bridges = []
        for node in ("pi-1", "pi-2", "pi-3"):
            camera = {"photo_interval": 600, "growth_speed": photo_history.GROWTH_SPEED}
            bridge = BridgeProcess(node, broker.port, work / "bridges", interval=5.0, camera=camera)
            bridge.start()
            running.callback(bridge.stop)
            bridges.append(bridge)
        hass = HomeAssistant(work / "homeassistant", free_port(), integrations=DEMO_INTEGRATIONS, log_level="warning")
        running.callback(hass.stop)
        hass.start()
        hass.onboard("demo", secrets.token_urlsafe(12))
        hass.setup_mqtt(broker.port)
        hass.accept_discovery()
        hass.wait_for(
            lambda: all(hass.state(f"sensor.pi_{n}_ph") not in (None, "unknown") for n in (1, 2, 3)),
            60,
            "the first readings",
        )
        # Now that HA listens, each Pi starts again with a few photos of the last two days in its
        # buffer (a photo sent while nobody listened reached no one); the newest is shown.
        for bridge in bridges:
            bridge.stop()
            photo_history.queue_photos(bridge.node_id, bridge.workdir / bridge.node_id, hours=48, every=16)
            bridge.start()
        messages = station_messages()
        publish(broker.port, messages)
        hass.wait_for(lambda: hass.state("sensor.station_ps_001_slot_1_status") is not None, 60, "the station")
        # State messages are not retained: send them again now that the entities listen.
        publish(broker.port, [m for m in messages if m[0].endswith("/state")])
        hass.wait_for(lambda: hass.state("sensor.station_ps_001_slot_1_status") == "occupied", 30, "station state")
        hass.add_dashboard(URL_PATH)
        # One watering, so the pump log and table have something to show.
        hass.call_service("switch", "turn_on", {"entity_id": "switch.pi_2_pump"})
        print(f"Collecting {args.history:.0f} s of readings for the history graphs...", flush=True)
        time.sleep(args.history)
        args.out.mkdir(parents=True, exist_ok=True)
        token = hass.ws_command({"type": "auth/long_lived_access_token", "client_name": "screenshot", "lifespan": 1})
        browser = Browser(hass.url, token, 1400, 1100)
        running.callback(browser.close)
        hass.wait_for(
            lambda: all(hass.state(f"image.pi_{n}_plant_photo") not in (None, "unknown") for n in (1, 2, 3)),
            120,
            "the Pis' photos",
        )
        shots = {f"{hass.url}/{URL_PATH}/{view}": args.out / f"dashboard-{view}.png" for view in args.views}
        browser.screenshots(shots)
        errors = [line for line in browser.console if '"level": "error"' in line and "favicon" not in line]
        if errors:
            print("The browser reported errors:\n" + "\n".join(errors[-10:]))
        if problems := [line for line in hass.log_tail(400).splitlines() if "Error" in line or " ERROR " in line]:
            print("Home Assistant logged errors:\n" + "\n".join(problems[-15:]))
        for path in shots.values():
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
