"""The Media panel's "Hydro Fleet" folder: each node's photos per camera, and its time-lapses.

Identifiers are paths below the integration's media folder (``<node>/photos/<camera>/<id>.jpg``,
``<node>/timelapses/<name>.webp``). Files are served by Home Assistant's own local media view
(``/media/<media dir>/hydro_fleet/...``), which the Media panel signs; nothing is served here.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from homeassistant.components.media_player.const import MediaClass
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import BrowseMediaSource, MediaSource, MediaSourceItem, PlayMedia
from homeassistant.components.media_source.error import Unresolvable
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr

from .const import DOMAIN
from .photos import photo_root

_MEDIA_CLASS = {"image": MediaClass.IMAGE, "video": MediaClass.VIDEO}


async def async_get_media_source(hass: HomeAssistant) -> MediaSource:
    """The integration's media source (found by the media_source integration)."""
    return HydroFleetMediaSource(hass)


class HydroFleetMediaSource(MediaSource):
    """Photos and time-lapses of every node, as folders."""

    name = "Hydro Fleet"

    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(DOMAIN)
        self.hass = hass

    def _path(self, identifier: str) -> tuple[Path, Path]:
        """(the integration's folder, the file or folder ``identifier`` names inside it)."""
        _, root = photo_root(self.hass)
        path = (root / identifier).resolve() if identifier else root
        if path != root.resolve() and not path.is_relative_to(root.resolve()):
            raise Unresolvable("path outside the Hydro Fleet media folder")
        return root, path

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        source_dir, _ = photo_root(self.hass)
        _, path = self._path(item.identifier)
        mime_type, _ = mimetypes.guess_type(path.name)
        if mime_type is None or not await self.hass.async_add_executor_job(path.is_file):
            raise Unresolvable(f"no photo or time-lapse {item.identifier}")
        return PlayMedia(f"/media/{source_dir}/{DOMAIN}/{item.identifier}", mime_type, path=path)

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        identifier = item.identifier or ""
        try:
            root, path = self._path(identifier)
        except Unresolvable as err:
            raise BrowseError(str(err)) from err
        names = self._node_names()
        return await self.hass.async_add_executor_job(self._browse, root, path, identifier, names)

    def _node_names(self) -> dict[str, str]:
        names = {}
        for device in dr.async_get(self.hass).devices.values():
            for domain, node_id in device.identifiers:
                if domain == DOMAIN:
                    names[node_id] = device.name_by_user or device.name or node_id
        return names

    def _browse(self, root: Path, path: Path, identifier: str, names: dict[str, str]) -> BrowseMediaSource:
        depth = len(Path(identifier).parts)
        children: list[BrowseMediaSource] = []
        if depth == 0 and not path.exists():  # no photo arrived yet
            folder = _folder("", "Hydro Fleet")
            folder.children = children
            return folder
        if not path.is_dir():
            raise BrowseError(f"no folder {identifier}")
        # Newest first: photos are named by time.
        for child in sorted(path.iterdir(), key=lambda p: p.name, reverse=depth >= 2):
            if child.name.startswith("."):
                continue
            relative = child.relative_to(root).as_posix()
            if child.is_dir():
                title = names.get(child.name, child.name) if depth == 0 else child.name.replace("_", " ")
                children.append(_folder(relative, title))
                continue
            mime_type, _ = mimetypes.guess_type(child.name)
            kind = (mime_type or "").split("/")[0]
            if kind in _MEDIA_CLASS:
                children.append(
                    BrowseMediaSource(
                        domain=DOMAIN,
                        identifier=relative,
                        media_class=_MEDIA_CLASS[kind],
                        media_content_type=mime_type or "",
                        title=child.stem,
                        can_play=True,
                        can_expand=False,
                    )
                )
        title = "Hydro Fleet" if depth == 0 else names.get(identifier, Path(identifier).name)
        folder = _folder(identifier, title)
        folder.children = children
        return folder


def _folder(identifier: str, title: str) -> BrowseMediaSource:
    return BrowseMediaSource(
        domain=DOMAIN,
        identifier=identifier,
        media_class=MediaClass.DIRECTORY,
        media_content_type="",
        title=title,
        can_play=False,
        can_expand=True,
    )
