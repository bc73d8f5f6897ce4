"""Run a real Home Assistant (``hass``) process from a generated config directory.

Used by ``scripts/demo``, the end-to-end tests and the benchmarks. It writes a minimal
``configuration.yaml`` (no ``default_config``, nothing that reaches the network), links
our integration into ``custom_components``, starts ``python -m homeassistant
--skip-pip`` (every requirement is already in the venv), does onboarding over the REST
API and talks to HA through its own REST API. See ../shared/notes on the pitfalls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import requests
import yaml

REPO = Path(__file__).resolve().parent.parent

# Extra integrations the demo loads so a person gets history graphs, the logbook,
# automations and blueprints; the tests keep the minimal set for speed.
DEMO_INTEGRATIONS = (
    "frontend",
    "recorder",
    "history",
    "logbook",
    "automation",
    "script",
    "blueprint",
    "config",
    "tag",
    "media_source",  # the Media panel: the nodes' photos and time-lapses
)
# The demo's logbook: a station slot's status and power bank change with every rent and
# return, and a return is already the Power bank returned event's line. HA logs every
# change of a sensor without a unit, so they are kept out of the logbook here (their
# history stays: the recorder still records them). docs/integration.md gives users the same.
LOGBOOK_CONFIG = {"exclude": {"entity_globs": ["sensor.station_*_slot_*_status", "sensor.station_*_slot_*_power_bank"]}}
DASHBOARD = REPO / "dashboards" / "hydro_fleet.yaml"
BLUEPRINTS = REPO / "blueprints"


class HomeAssistantError(RuntimeError):
    """Home Assistant did not do what the harness asked; the message says what."""


class HomeAssistant:
    """One ``hass`` process and a REST client for it."""

    def __init__(
        self,
        config_dir: Path,
        port: int,
        *,
        integrations: tuple[str, ...] = (),
        python: str = sys.executable,
        log_level: str = "info",
    ) -> None:
        self.config_dir = config_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.integrations = integrations
        self.python = python
        self.log_level = log_level
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = config_dir / "hass-stdout.log"
        self.token: str | None = None
        self.session = requests.Session()

    # --- process -------------------------------------------------------------

    def write_config(self) -> None:
        """configuration.yaml before the first start, or HA writes one with default_config."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        # media_dirs below must name an existing folder, or HA starts in recovery mode.
        (self.config_dir / "media").mkdir(exist_ok=True)
        configs = {"logbook": LOGBOOK_CONFIG}
        extra = "".join(yaml.safe_dump({name: configs.get(name)}) for name in self.integrations)
        (self.config_dir / "configuration.yaml").write_text(
            "homeassistant:\n"
            "  name: Hydro Fleet\n"
            "  latitude: 0\n  longitude: 0\n  elevation: 0\n"
            "  unit_system: metric\n  time_zone: UTC\n  country: NL\n  currency: EUR\n  language: en\n"
            # Its own media folder (photos, time-lapses): HA would otherwise take the machine's /media.
            f"  media_dirs:\n    local: {self.config_dir / 'media'}\n"
            "http:\n"
            "  server_host: 127.0.0.1\n"
            f"  server_port: {self.port}\n"
            "conversation:\n"
            f"{extra}"
            "logger:\n"
            f"  default: {self.log_level}\n"
            "  logs:\n"
            "    custom_components.hydro_fleet: debug\n"
        )
        self._skip_core_config_step()
        custom = self.config_dir / "custom_components"
        custom.mkdir(exist_ok=True)
        link = custom / "hydro_fleet"
        if not link.exists():
            link.symlink_to(REPO / "custom_components" / "hydro_fleet", target_is_directory=True)

    def _skip_core_config_step(self) -> None:
        """Mark onboarding's location step done before the first start.

        configuration.yaml already sets the location, units and language. Finishing that
        step over the API would also start config flows for met, google_translate,
        radio_browser and shopping_list, which fail without their packages or a network
        and leave a "Failed to set up" card on the Integrations page.
        """
        store = self.config_dir / ".storage" / "onboarding"
        if store.exists():
            return
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(
            json.dumps({"version": 4, "minor_version": 1, "key": "onboarding", "data": {"done": ["core_config"]}})
        )

    def start(self, timeout: float = 120.0) -> None:
        self.write_config()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.python, "-m", "homeassistant", "--config", str(self.config_dir), "--skip-pip"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": ""},
        )
        # /auth/providers answers (400 before onboarding, 200 after) once HTTP is up.
        self.wait_for(lambda: self._reachable(), timeout, "HTTP API to come up")

    def _reachable(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise HomeAssistantError(f"hass exited with {self.process.returncode}:\n{self.log_tail()}")
        try:
            return self.session.get(f"{self.url}/auth/providers", timeout=2).status_code in (200, 400)
        except requests.ConnectionError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # HA stops cleanly on SIGTERM, exit code 0
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def exit_code(self) -> int | None:
        """The exit code once ``hass`` has ended (it is reaped then), None while it runs."""
        return None if self.process is None else self.process.poll()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := predicate():
                return result
            time.sleep(interval)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")

    # --- onboarding and setup --------------------------------------------------

    def onboard(self, username: str, password: str, name: str = "Hydro Fleet Demo") -> None:
        """Create the owner user, log in, and finish the onboarding steps left (see _skip_core_config_step)."""
        client_id = f"{self.url}/"
        response = self.session.post(
            f"{self.url}/api/onboarding/users",
            json={
                "client_id": client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
            timeout=30,
        )
        self._check(response, "create the owner user")
        code = response.json()["auth_code"]
        response = self.session.post(
            f"{self.url}/auth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "client_id": client_id,
            },
            timeout=30,
        )
        self._check(response, "log in")
        self.token = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"
        for step, body in (
            ("analytics", {}),
            ("integration", {"client_id": client_id, "redirect_uri": f"{self.url}/?auth_callback=1"}),
        ):
            self._check(
                self.session.post(f"{self.url}/api/onboarding/{step}", json=body, timeout=30),
                f"finish onboarding step {step}",
            )

    def start_with_mqtt(self, broker_port: int, username: str, password: str) -> None:
        """Start, onboard with this owner and set the MQTT integration up on the broker: ready for the tests."""
        self.start()
        self.onboard(username, password)
        self.setup_mqtt(broker_port)

    def setup_mqtt(self, broker_port: int, broker_host: str = "127.0.0.1") -> None:
        flow = self.post("/api/config/config_entries/flow", {"handler": "mqtt"})
        result = self.post(
            f"/api/config/config_entries/flow/{flow['flow_id']}", {"broker": broker_host, "port": broker_port}
        )
        if result.get("type") != "create_entry":
            raise HomeAssistantError(f"MQTT setup did not finish: {result}")

    def accept_discovery(self, domain: str = "hydro_fleet", timeout: float = 60.0) -> dict[str, Any]:
        """Wait for the config flow that MQTT discovery starts and confirm it, as a user would."""

        def discovered() -> dict[str, Any] | None:
            flows = self.ws_command({"type": "config_entries/flow/progress"})
            return next((f for f in flows if f["handler"] == domain), None)

        flow = self.wait_for(discovered, timeout, f"a discovered {domain} config flow")
        result = self.post(f"/api/config/config_entries/flow/{flow['flow_id']}", {})
        if result.get("type") != "create_entry":
            raise HomeAssistantError(f"{domain} setup did not finish: {result}")
        return flow

    def add_dashboard(self, url_path: str = "hydro-fleet", title: str = "Hydro Fleet", source: Path = DASHBOARD) -> str:
        """Add the fleet dashboard (a storage-mode dashboard in the sidebar); returns its URL."""
        self.ws_command(
            {
                "type": "lovelace/dashboards/create",
                "url_path": url_path,
                "title": title,
                "icon": "mdi:sprout",
                "mode": "storage",
                "show_in_sidebar": True,
                "require_admin": False,
            }
        )
        self.ws_command(
            {"type": "lovelace/config/save", "url_path": url_path, "config": yaml.safe_load(source.read_text())}
        )
        return f"{self.url}/{url_path}"

    def set_default_dashboard(self, url_path: str) -> None:
        """Make ``url_path`` the dashboard every user lands on (Settings > Dashboards > Set as default)."""
        self.ws_command({"type": "frontend/set_system_data", "key": "core", "value": {"default_panel": url_path}})

    def install_blueprints(self) -> list[str]:
        """Copy the repository's blueprints where HA looks for them (Settings > Blueprints)."""
        target = self.config_dir / "blueprints"
        shutil.copytree(BLUEPRINTS, target, dirs_exist_ok=True)
        return sorted(p.stem for p in (target / "automation" / "hydro_fleet").glob("*.yaml"))

    # --- REST ----------------------------------------------------------------

    @staticmethod
    def _check(response: requests.Response, what: str) -> None:
        if response.status_code >= 400:
            raise HomeAssistantError(f"could not {what}: HTTP {response.status_code} {response.text[:500]}")

    def get(self, path: str) -> Any:
        response = self.session.get(f"{self.url}{path}", timeout=30)
        self._check(response, f"GET {path}")
        return response.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.post(f"{self.url}{path}", json=body or {}, timeout=30)
        self._check(response, f"POST {path}")
        return response.json() if response.text else None

    def ws_command(self, message: dict[str, Any]) -> Any:
        """Send one command over the WebSocket API (some calls exist only there) and return its result."""
        # Not asyncio.run(): it would unset the thread's current event loop, which the
        # HA test plugin's fixtures rely on in later tests.
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(self._ws_command(message))
        finally:
            loop.close()

    async def _ws_command(self, message: dict[str, Any]) -> Any:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{self.url}/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            if (reply := await ws.receive_json())["type"] != "auth_ok":
                raise HomeAssistantError(f"WebSocket authentication failed: {reply}")
            await ws.send_json({"id": 1, **message})
            result = await ws.receive_json()
        if not result.get("success"):
            raise HomeAssistantError(f"WebSocket command {message['type']} failed: {result.get('error')}")
        return result["result"]

    def states(self) -> dict[str, dict[str, Any]]:
        return {s["entity_id"]: s for s in self.get("/api/states")}

    def state(self, entity_id: str) -> str | None:
        response = self.session.get(f"{self.url}/api/states/{entity_id}", timeout=30)
        return response.json()["state"] if response.status_code == 200 else None

    def call_service(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        return self.post(f"/api/services/{domain}/{service}", data)

    def template(self, template: str) -> str:
        response = self.session.post(f"{self.url}/api/template", json={"template": template}, timeout=30)
        self._check(response, "render a template")
        return response.text

    def converse(self, text: str) -> dict[str, Any]:
        return self.post("/api/conversation/process", {"text": text, "language": "en"})

    def devices_of(self, domain: str) -> list[str]:
        """Device ids that have entities of ``domain``."""
        rendered = self.template(
            f"{{{{ integration_entities('{domain}') | map('device_id') | reject('none') | unique | list | tojson }}}}"
        )
        return json.loads(rendered)
