"""Photos waiting for the broker, on disk, within a disk budget.

Each photo is one file holding its encoded payload (``<photo id>.<camera>.photo``),
written to a temporary name and renamed, so a bridge killed mid-write leaves no
half photo. Names sort by time (the id starts with it). When the budget is exceeded the
oldest photos go first; how many is counted and handed to ``on_drop`` to be reported.
A photo is deleted only after the broker acknowledged it.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
import logging
import os
from pathlib import Path

from hydro_fleet_protocol import Photo

_LOGGER = logging.getLogger(__name__)
_SUFFIX = ".photo"


class PhotoBuffer:
    """Oldest-first photo files under ``directory``, at most ``budget_bytes`` in all."""

    def __init__(self, directory: Path, budget_bytes: int, on_drop: Callable[[int], None] | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.budget = budget_bytes
        self.on_drop = on_drop
        self.dropped = 0
        for leftover in directory.glob("*.tmp"):  # a write cut short by a crash
            leftover.unlink(missing_ok=True)
        self._sizes: dict[str, int] = {p.name: p.stat().st_size for p in directory.glob(f"*{_SUFFIX}")}

    def __len__(self) -> int:
        return len(self._sizes)

    @property
    def used(self) -> int:
        return sum(self._sizes.values())

    def put(self, photo: Photo) -> bool:
        """Keep ``photo`` until it is sent; False if the disk refused it (logged)."""
        payload = photo.encode()
        name = f"{photo.meta.id}.{photo.meta.camera}{_SUFFIX}"
        temporary = self.directory / f"{name}.tmp"
        try:
            with open(temporary, "wb") as file:
                file.write(payload)
            os.replace(temporary, self.directory / name)
        except OSError as err:
            with contextlib.suppress(OSError):
                temporary.unlink()
            _LOGGER.warning("photo %s could not be buffered: %s", photo.meta.id, err)
            return False
        self._sizes[name] = len(payload)
        self._enforce_budget()
        return True

    def _enforce_budget(self) -> None:
        dropped = 0
        total = self.used
        for name in sorted(self._sizes):
            if total <= self.budget or len(self._sizes) == 1:
                break
            total -= self._sizes.pop(name)
            (self.directory / name).unlink(missing_ok=True)
            dropped += 1
        if dropped:
            self.dropped += dropped
            _LOGGER.warning(
                "photo buffer over its %.0f MB budget: dropped the %d oldest photos", self.budget / 1e6, dropped
            )
            if self.on_drop is not None:
                self.on_drop(dropped)

    def oldest(self) -> tuple[str, bytes] | None:
        """The oldest buffered photo's name and payload, or None."""
        for name in sorted(self._sizes):
            try:
                return name, (self.directory / name).read_bytes()
            except OSError as err:
                _LOGGER.warning("skipping an unreadable buffered photo %s: %s", name, err)
                self.delete(name)
        return None

    def delete(self, name: str) -> None:
        self._sizes.pop(name, None)
        (self.directory / name).unlink(missing_ok=True)
