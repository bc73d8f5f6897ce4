"""Screenshots of a running ``scripts/demo`` as a new user sees it, with headless Chromium.

    scripts/demo &    # note the printed address and password; let it run ten minutes
    python -m devtools.demo_screenshots --url http://127.0.0.1:8123 --password <printed>

Writes docs/first-hour-<page>.png: the page a user lands on after logging in, a Pi's
device page, a station's device page and the Activity (logbook) page. With
``--offline pi-2`` it then stops that node's bridge (SIGTERM, as a user would; the demo
leaves a node stopped on purpose stopped) and shoots the fleet view with the node offline.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import signal
import time

import requests

from devtools.dashboard_screenshot import Browser
from devtools.homeassistant import REPO, HomeAssistant

WIDTH, HEIGHT = 1400, 2000


def login(url: str, username: str, password: str) -> HomeAssistant:
    """A client of the running demo, logged in with its owner's password (HA's login flow)."""
    hass = HomeAssistant(Path(os.devnull), int(url.rsplit(":", 1)[1]))
    client_id = f"{hass.url}/"
    flow = hass.post(
        "/auth/login_flow", {"client_id": client_id, "handler": ["homeassistant", None], "redirect_uri": client_id}
    )
    result = hass.post(
        f"/auth/login_flow/{flow['flow_id']}", {"client_id": client_id, "username": username, "password": password}
    )
    response = requests.post(
        f"{hass.url}/auth/token",
        data={"grant_type": "authorization_code", "code": result["result"], "client_id": client_id},
        timeout=30,
    )
    response.raise_for_status()
    hass.token = response.json()["access_token"]
    hass.session.headers["Authorization"] = f"Bearer {hass.token}"
    return hass


def device_id(hass: HomeAssistant, name: str) -> str:
    devices = hass.ws_command({"type": "config/device_registry/list"})
    return next(d["id"] for d in devices if d["name"] == name)


def bridge_pid(node_id: str) -> int:
    """The demo's bridge process of ``node_id`` (its command line names the node's config file)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pi_bridge" in cmdline and str(REPO / ".demo" / "bridges" / f"{node_id}.yaml").encode() in cmdline:
            return int(proc.name)
    raise LookupError(f"no running bridge of {node_id}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8123")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", required=True)
    parser.add_argument("--offline", metavar="NODE", help="also stop this node's bridge and shoot the fleet view")
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    hass = login(args.url, args.user, args.password)
    token = hass.ws_command(
        {"type": "auth/long_lived_access_token", "client_name": f"screenshots {time.time():.0f}", "lifespan": 1}
    )
    shots = {
        f"{hass.url}/": args.out / "first-hour-landing.png",
        f"{hass.url}/config/devices/device/{device_id(hass, 'pi-1')}": args.out / "first-hour-pi-device.png",
        f"{hass.url}/config/devices/device/{device_id(hass, 'Station PS001')}": args.out / "first-hour-station.png",
        f"{hass.url}/logbook": args.out / "first-hour-activity.png",
    }
    browser = Browser(hass.url, token, WIDTH, HEIGHT)
    try:
        browser.screenshots(shots)
        if args.offline:
            os.kill(bridge_pid(args.offline), signal.SIGTERM)
            entity = f"sensor.{args.offline.replace('-', '_')}_ph"
            hass.wait_for(lambda: hass.state(entity) == "unavailable", 60, f"{args.offline} to show offline")
            time.sleep(2)
            offline = args.out / "first-hour-node-offline.png"
            browser.screenshots({f"{hass.url}/hydro-fleet/fleet": offline})
            shots[f"{hass.url}/hydro-fleet/fleet"] = offline
    finally:
        browser.close()
    for path in shots.values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
