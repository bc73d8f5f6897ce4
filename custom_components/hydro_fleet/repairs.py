"""Repair issues about nodes: raised when a problem appears, deleted when its cause goes.

Every issue is keyed by the node id, so a node that recovers, or is removed, takes its
issues with it. None is fixable from the UI: each one's text says what to do on the node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from .const import (
    CONF_CALIBRATION_DAYS,
    CONF_OFFLINE_MINUTES,
    DEFAULT_CALIBRATION_DAYS,
    DEFAULT_OFFLINE_MINUTES,
    DOMAIN,
    DUPLICATE_WINDOW,
)

ISSUE_OFFLINE = "node_offline"
ISSUE_DUPLICATE = "duplicate_node_id"
ISSUE_UNSUPPORTED_VERSION = "unsupported_protocol_version"
ISSUE_CALIBRATION_OVERDUE = "calibration_overdue"
ALL_ISSUES = (ISSUE_OFFLINE, ISSUE_DUPLICATE, ISSUE_UNSUPPORTED_VERSION, ISSUE_CALIBRATION_OVERDUE)


def issue_id(kind: str, node_id: str) -> str:
    return f"{kind}_{node_id}"


class FleetIssues:
    """Keeps the repair issues of every node in step with what the nodes report."""

    def __init__(self, hass: HomeAssistant, options: Mapping[str, Any]) -> None:
        self.hass = hass
        self.options = options
        self._offline_timers: dict[str, CALLBACK_TYPE] = {}
        # node id -> {machine id: when its config was last seen}
        self._machines: dict[str, dict[str, float]] = {}
        self._active: set[str] = set()

    @property
    def offline_seconds(self) -> float:
        return float(self.options.get(CONF_OFFLINE_MINUTES, DEFAULT_OFFLINE_MINUTES)) * 60

    @property
    def calibration_seconds(self) -> float:
        return float(self.options.get(CONF_CALIBRATION_DAYS, DEFAULT_CALIBRATION_DAYS)) * 86400

    def _create(self, kind: str, node_id: str, name: str, **placeholders: str) -> None:
        key = issue_id(kind, node_id)
        self._active.add(key)
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            key,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=kind,
            translation_placeholders={"node": name, "node_id": node_id, **placeholders},
        )

    def _delete(self, kind: str, node_id: str) -> None:
        key = issue_id(kind, node_id)
        # Most calls find nothing to delete; skip the registry then (this runs per sample).
        if key in self._active:
            self._active.discard(key)
            ir.async_delete_issue(self.hass, DOMAIN, key)

    # --- offline ----------------------------------------------------------------------

    @callback
    def node_online(self, node_id: str) -> None:
        if (cancel := self._offline_timers.pop(node_id, None)) is not None:
            cancel()
        self._delete(ISSUE_OFFLINE, node_id)

    @callback
    def node_offline(self, node_id: str, name: str) -> None:
        """Start the clock: the issue appears only if the node stays offline."""
        if node_id in self._offline_timers:
            return

        @callback
        def still_offline(_now: Any) -> None:
            self._offline_timers.pop(node_id, None)
            self._create(ISSUE_OFFLINE, node_id, name, minutes=f"{self.offline_seconds / 60:g}")

        self._offline_timers[node_id] = async_call_later(self.hass, self.offline_seconds, still_offline)

    # --- protocol version -------------------------------------------------------------

    @callback
    def unsupported_version(self, node_id: str, version: object) -> None:
        self._create(ISSUE_UNSUPPORTED_VERSION, node_id, node_id, version=str(version)[:20])

    @callback
    def supported_version(self, node_id: str) -> None:
        self._delete(ISSUE_UNSUPPORTED_VERSION, node_id)

    # --- duplicate node ids -------------------------------------------------------------

    @callback
    def config_seen(self, node_id: str, name: str, machine_id: str | None) -> None:
        """Two machines announcing one node id within the window share a name by mistake."""
        if machine_id is None:
            return
        now = dt_util.utcnow().timestamp()
        seen = {m: t for m, t in self._machines.get(node_id, {}).items() if now - t < DUPLICATE_WINDOW}
        seen[machine_id] = now
        self._machines[node_id] = seen
        if len(seen) > 1:
            self._create(ISSUE_DUPLICATE, node_id, name, machines=", ".join(sorted(seen)))
        else:
            self._delete(ISSUE_DUPLICATE, node_id)

    # --- calibration ------------------------------------------------------------------

    @callback
    def calibration_seen(self, node_id: str, name: str, last_calibration: Any) -> None:
        if isinstance(last_calibration, bool) or not isinstance(last_calibration, int | float):
            return
        age = dt_util.utcnow().timestamp() - last_calibration
        if age > self.calibration_seconds:
            self._create(ISSUE_CALIBRATION_OVERDUE, node_id, name, days=f"{age / 86400:.0f}")
        else:
            self._delete(ISSUE_CALIBRATION_OVERDUE, node_id)

    # --- lifecycle ----------------------------------------------------------------------

    @callback
    def node_removed(self, node_id: str) -> None:
        if (cancel := self._offline_timers.pop(node_id, None)) is not None:
            cancel()
        self._machines.pop(node_id, None)
        for kind in ALL_ISSUES:
            self._active.add(issue_id(kind, node_id))
            self._delete(kind, node_id)

    @callback
    def async_stop(self) -> None:
        """Cancel timers; issues stay, as they describe the nodes, not this process."""
        while self._offline_timers:
            self._offline_timers.popitem()[1]()
