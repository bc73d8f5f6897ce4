"""Health of the node, read from the kernel where available (absent keys: not readable here)."""

from __future__ import annotations

from pathlib import Path
import shutil
import time

from hydro_fleet_protocol import HealthKey, Reading

_THERMAL = Path("/sys/class/thermal/thermal_zone0/temp")
_WIRELESS = Path("/proc/net/wireless")


def cpu_temperature(path: Path = _THERMAL) -> float | None:
    try:
        return round(int(path.read_text().strip()) / 1000.0, 1)
    except (OSError, ValueError):
        return None


def wifi_rssi(path: Path = _WIRELESS, interface: str = "wlan0") -> float | None:
    """Signal level in dBm from /proc/net/wireless (``wlan0: 0000   70.  -40.  -256 ...``)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines[2:]:
        name, _, rest = line.partition(":")
        if name.strip() == interface:
            fields = rest.split()
            try:
                return float(fields[2].rstrip("."))
            except (IndexError, ValueError):
                return None
    return None


def disk_free_mb(path: Path) -> float | None:
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return round(shutil.disk_usage(probe).free / 1e6, 1)
    except OSError:
        return None


class Health:
    """Collects the health dict published with each state."""

    def __init__(self, state_dir: Path, firmware: str) -> None:
        self.state_dir = state_dir
        self.firmware = firmware
        self.started = time.monotonic()
        self._slow: dict[str, Reading] = {}
        self._slow_at = 0.0

    def collect(self, extra: dict[str, Reading]) -> dict[str, Reading]:
        now = time.monotonic()
        # Disk, CPU temperature and Wi-Fi change slowly; reading them every 30 s is plenty.
        if now - self._slow_at > 30.0 or not self._slow:
            self._slow_at = now
            self._slow = {
                HealthKey.CPU_TEMPERATURE: cpu_temperature(),
                HealthKey.RSSI: wifi_rssi(),
                HealthKey.DISK_FREE: disk_free_mb(self.state_dir),
            }
        health: dict[str, Reading] = {HealthKey.UPTIME: round(now - self.started), HealthKey.FIRMWARE: self.firmware}
        health |= {k: v for k, v in self._slow.items() if v is not None}
        health |= {k: v for k, v in extra.items() if v is not None}
        return health
