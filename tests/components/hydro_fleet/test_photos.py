"""Plant photos in Home Assistant: the image entity, storage under the media folder with
retention, bad photos rejected, watering reports linking photos, the silent-camera repair,
the media source and the time-lapse action."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import hashlib
import io
import json
import logging
from pathlib import Path
import time

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import media_source
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, MqttMockHAClient

from custom_components.hydro_fleet.const import CONF_PHOTO_KEEP_COUNT, CONF_PHOTO_KEEP_DAYS, CONF_PREFIX, DOMAIN
from custom_components.hydro_fleet.photos import FLOOD_BURST
from hydro_fleet_protocol import MAX_PHOTO_BYTES, CameraConfig, Event, Photo, PhotoReason

from .conftest import node_config, node_state, publish

IMAGE = "image.pi_1_plant_photo"
CAMERA = (CameraConfig("plant", "Plant", photo_interval=60),)
T0 = time.time() - 3600


def jpeg(colour: tuple[int, int, int] = (60, 140, 60), size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG", quality=85)
    return out.getvalue()


def photo(ts: float, reason: PhotoReason = PhotoReason.INTERVAL, data: bytes | None = None) -> Photo:
    return Photo.build("plant", ts, reason, data if data is not None else jpeg(), 320, 240)


@pytest.fixture
def media(hass: HomeAssistant, tmp_path: Path) -> Path:
    """HA's media folder, in the test's directory."""
    folder = tmp_path / "media"
    folder.mkdir()
    hass.config.media_dirs = {"local": str(folder)}
    return folder / DOMAIN


async def _setup(hass: HomeAssistant, options: dict | None = None) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN, options=options or {})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
async def camera_node(hass: HomeAssistant, mqtt_mock: MqttMockHAClient, media: Path) -> MockConfigEntry:
    entry = await _setup(hass)
    await online(hass)
    return entry


async def online(hass: HomeAssistant, **changes) -> None:
    publish(hass, "pi-1", "config", node_config(cameras=CAMERA, **changes))
    publish(hass, "pi-1", "availability", "online")
    await hass.async_block_till_done()


async def send(hass: HomeAssistant, payload: bytes, node: str = "pi-1") -> None:
    publish(hass, node, "photo", payload)
    await hass.async_block_till_done(wait_background_tasks=True)


def stored(media: Path, node: str = "pi-1") -> list[str]:
    return sorted(p.name for p in (media / node).rglob("*") if p.is_file()) if (media / node).exists() else []


async def test_a_photo_is_stored_and_shown_with_its_time(
    hass: HomeAssistant, camera_node: MockConfigEntry, media: Path, hass_client: ClientSessionGenerator
) -> None:
    assert hass.states.get(IMAGE).state == "unknown"
    first = photo(T0, data=jpeg((200, 30, 30)))
    await send(hass, first.encode())
    state = hass.states.get(IMAGE)
    assert state.state == datetime.fromtimestamp(first.meta.ts, UTC).isoformat()
    assert state.attributes["photo_id"] == first.meta.id
    assert state.attributes["media_content_id"] == f"media-source://hydro_fleet/pi-1/photos/plant/{first.meta.id}.jpg"
    path = media / "pi-1" / "photos" / "plant" / f"{first.meta.id}.jpg"
    assert path.read_bytes() == first.jpeg
    client = await hass_client()
    response = await client.get(state.attributes["entity_picture"])
    assert response.status == 200 and response.content_type == "image/jpeg"
    assert await response.read() == first.jpeg

    # A newer photo replaces it; an older one arriving late (from the node's buffer) is kept, not shown.
    newer = photo(T0 + 60, data=jpeg((30, 30, 200)))
    await send(hass, newer.encode())
    await send(hass, photo(T0 - 60).encode())
    assert hass.states.get(IMAGE).attributes["photo_id"] == newer.meta.id
    assert len(stored(media)) == 3

    # After a restart the newest photo on disk is shown at once.
    assert await hass.config_entries.async_reload(camera_node.entry_id)
    await online(hass)
    assert hass.states.get(IMAGE).attributes["photo_id"] == newer.meta.id


def _garbage_jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def _with_header(**header: object) -> bytes:
    good = photo(T0)
    meta = good.meta.to_dict() | header
    return json.dumps(meta).encode() + b"\n" + good.jpeg


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (photo(T0, data=_garbage_jpeg()).encode(), "does not decode as an image"),
        (b"GIF89a this is not a photo at all", "no header line"),
        (_with_header(sha256=hashlib.sha256(b"other").hexdigest()), "checksum mismatch"),
        (_with_header() + bytes(MAX_PHOTO_BYTES), "over the 1000000 byte limit"),
        (_with_header(camera="door"), "camera 'door' is not one this node announced"),
    ],
    ids=["not_an_image", "no_header", "checksum", "over_size", "unknown_camera"],
)
async def test_a_bad_photo_is_logged_once_per_node_and_nothing_is_written_or_shown(
    hass: HomeAssistant, camera_node: MockConfigEntry, media: Path, caplog: pytest.LogCaptureFixture, payload, why
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        await send(hass, payload)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "Ignored a photo" in r.message]
    assert len(warnings) == 1, [r.message for r in warnings]
    assert warnings[0].message.startswith("Ignored a photo from node pi-1: ") and why in warnings[0].message
    assert stored(media) == []
    assert not list(media.rglob("*.tmp"))
    assert hass.states.get(IMAGE).state == "unknown"
    # A good photo afterwards is shown, and the next bad one is logged again.
    await send(hass, photo(T0).encode())
    assert hass.states.get(IMAGE).state != "unknown"
    await send(hass, payload)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING and "Ignored a photo" in r.message]) == 2


async def test_a_flood_of_photos_is_cut_off_with_one_log_line(
    hass: HomeAssistant, camera_node: MockConfigEntry, media: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for index in range(FLOOD_BURST + 15):
        publish(hass, "pi-1", "photo", photo(T0 + index).encode())
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(stored(media)) == FLOOD_BURST
    warnings = [r.message for r in caplog.records if r.levelno == logging.WARNING and "Ignored a photo" in r.message]
    flood = f"more than {FLOOD_BURST} photos in a burst (at most one per 2 s)"
    assert warnings == [f"Ignored a photo from node pi-1: {flood}"]
    # What is shown is the newest accepted photo, not one of the rejected.
    assert hass.states.get(IMAGE).attributes["photo_id"] == photo(T0 + FLOOD_BURST - 1).meta.id


async def test_old_nodes_without_a_camera_have_no_image_and_their_photos_are_refused(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, media: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await _setup(hass)
    publish(hass, "pi-2", "config", node_config("pi-2"))
    publish(hass, "pi-2", "availability", "online")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_2_ph") is not None
    assert not hass.states.async_entity_ids("image")
    await send(hass, photo(T0).encode(), node="pi-2")
    assert stored(media, "pi-2") == []
    assert "Ignored a photo from node pi-2: the node announced no camera" in caplog.text


async def test_the_camera_health_is_shown_only_on_nodes_with_a_camera(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, media: Path
) -> None:
    await _setup(hass)
    await online(hass)
    # An old node (no camera announced) that sends the same health keys gets no camera entities.
    publish(hass, "pi-2", "config", node_config("pi-2"))
    publish(hass, "pi-2", "availability", "online")
    for node in ("pi-1", "pi-2"):
        publish(hass, node, "state", node_state(health={"uptime": 1, "camera_ok": True, "photos_dropped": 0}))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_1_camera").state == STATE_OFF
    assert hass.states.get("sensor.pi_1_photos_dropped").state == "0"
    assert hass.states.get("sensor.pi_2_ph") is not None
    assert not [e for e in hass.states.async_entity_ids() if "pi_2_camera" in e or "pi_2_photos" in e]

    # The camera fails and the broker was away long enough for the disk budget to drop photos.
    publish(hass, "pi-1", "state", node_state(seq=2, health={"uptime": 2, "camera_ok": False, "photos_dropped": 7}))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_1_camera").state == STATE_ON
    assert hass.states.get("sensor.pi_1_photos_dropped").state == "7"
    # A value that is not a count is not shown.
    publish(hass, "pi-1", "state", node_state(seq=3, health={"uptime": 3, "camera_ok": "yes", "photos_dropped": -1}))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_1_camera").state == STATE_UNKNOWN
    assert hass.states.get("sensor.pi_1_photos_dropped").state == STATE_UNKNOWN

    # The node goes offline: so does its camera's health.
    publish(hass, "pi-1", "availability", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.pi_1_camera").state == STATE_UNAVAILABLE

    # A node that drops its camera loses the camera's entities.
    publish(hass, "pi-1", "config", node_config())
    await hass.async_block_till_done()
    registry = er.async_get(hass)
    assert registry.async_get("binary_sensor.pi_1_camera") is None
    assert registry.async_get("sensor.pi_1_photos_dropped") is None
    assert registry.async_get("sensor.pi_1_ph") is not None


async def test_retention_keeps_the_newest_photos_within_count_and_age(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, media: Path
) -> None:
    await _setup(hass, {CONF_PHOTO_KEEP_COUNT: 3, CONF_PHOTO_KEEP_DAYS: 2})
    await online(hass)
    now = time.time()
    old = photo(now - 3 * 86400)
    await send(hass, old.encode())
    assert stored(media) == []  # older than the age limit: pruned as soon as written
    recent = [photo(now - 600 + i * 60) for i in range(5)]
    for item in recent:
        await send(hass, item.encode())
    assert stored(media) == sorted(f"{p.meta.id}.jpg" for p in recent[-3:])


async def test_the_options_flow_sets_retention(hass: HomeAssistant, camera_node: MockConfigEntry) -> None:
    flow = await hass.config_entries.options.async_init(camera_node.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"],
        {
            "offline_minutes": 30,
            "calibration_days": 30,
            "water_low_percent": 20,
            CONF_PHOTO_KEEP_COUNT: 500,
            CONF_PHOTO_KEEP_DAYS: 14,
        },
    )
    assert result["type"] == "create_entry"
    assert camera_node.options[CONF_PHOTO_KEEP_COUNT] == 500 and camera_node.options[CONF_PHOTO_KEEP_DAYS] == 14


async def test_a_watering_report_links_its_before_and_after_photos(
    hass: HomeAssistant, camera_node: MockConfigEntry, media: Path
) -> None:
    before, after = photo(T0, PhotoReason.BEFORE_WATERING), photo(T0 + 40, PhotoReason.AFTER_WATERING)
    report = {"plan": "plan", "volume_ml": 250, "moisture_before": 31, "moisture_after": 44}
    report |= {"photo_before": before.meta.id, "photo_after": after.meta.id}
    events = []
    hass.bus.async_listen("hydro_fleet_event", events.append)
    publish(hass, "pi-1", "event", Event(ts=T0 + 41, type="watering_report", data=report))
    await send(hass, before.encode())
    await send(hass, after.encode())
    media_ids = {
        key: f"media-source://hydro_fleet/pi-1/photos/plant/{p.meta.id}.jpg"
        for key, p in (("photo_before_media_id", before), ("photo_after_media_id", after))
    }
    watering = hass.states.get("event.pi_1_watering")
    assert {k: watering.attributes[k] for k in media_ids} == media_ids
    assert {k: events[0].data["data"][k] for k in media_ids} == media_ids
    # The media ids resolve to the stored photos.
    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()  # media_source loads the integrations' platforms in the background
    for media_id in media_ids.values():
        resolved = await media_source.async_resolve_media(hass, media_id, None)
        assert resolved.path.is_file() and resolved.mime_type == "image/jpeg"


async def test_a_camera_that_stops_delivering_raises_a_repair_that_clears_itself(
    hass: HomeAssistant, camera_node: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    issues = ir.async_get(hass)
    issue_id = "camera_silent_pi-1_plant"
    await send(hass, photo(time.time()).encode())
    for _ in range(2):  # two intervals missed: not yet
        freezer.tick(timedelta(seconds=61))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    assert issues.async_get_issue(DOMAIN, issue_id) is None
    for _ in range(2):
        freezer.tick(timedelta(seconds=61))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()
    issue = issues.async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.translation_key == "camera_silent"
    assert issue.translation_placeholders["camera"] == "plant"
    await send(hass, photo(time.time()).encode())
    assert issues.async_get_issue(DOMAIN, issue_id) is None


async def test_the_media_panel_browses_nodes_cameras_and_photos(
    hass: HomeAssistant, camera_node: MockConfigEntry, media: Path
) -> None:
    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()  # media_source loads the integrations' platforms in the background
    root = await media_source.async_browse_media(hass, "media-source://hydro_fleet")
    assert root.title == "Hydro Fleet" and root.children == []
    photos = [photo(T0 + i * 60) for i in range(3)]
    for item in photos:
        await send(hass, item.encode())
    root = await media_source.async_browse_media(hass, "media-source://hydro_fleet")
    assert [(c.title, c.media_content_id) for c in root.children] == [("pi-1", "media-source://hydro_fleet/pi-1")]
    camera = await media_source.async_browse_media(hass, "media-source://hydro_fleet/pi-1/photos/plant")
    assert [c.title for c in camera.children] == [p.meta.id for p in reversed(photos)]  # newest first
    assert all(c.media_class == "image" and c.can_play for c in camera.children)
    resolved = await media_source.async_resolve_media(hass, camera.children[0].media_content_id, None)
    assert resolved.url == f"/media/local/hydro_fleet/pi-1/photos/plant/{photos[-1].meta.id}.jpg"
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(hass, "media-source://hydro_fleet/../../etc/passwd", None)


async def test_the_timelapse_action_makes_an_animated_webp_in_the_media_folder(
    hass: HomeAssistant, camera_node: MockConfigEntry, media: Path
) -> None:
    colours = [(20 * i, 120, 255 - 20 * i) for i in range(8)]
    for index, colour in enumerate(colours):
        await send(hass, photo(T0 + index * 60, data=jpeg(colour)).encode())
    await send(hass, photo(T0 + 30, PhotoReason.BEFORE_WATERING).encode())  # left out by default
    response = await hass.services.async_call(
        DOMAIN,
        "make_timelapse",
        {"entity_id": IMAGE, "frames_per_second": 4, "width": 160},
        blocking=True,
        return_response=True,
    )
    result = response[IMAGE]
    assert result["frames"] == 8
    relative = result["media_content_id"].removeprefix("media-source://hydro_fleet/")
    path = media / relative
    assert relative.startswith("pi-1/timelapses/plant_") and path.suffix == ".webp"
    with Image.open(path) as animation:
        assert animation.format == "WEBP" and animation.n_frames == 8 and animation.size == (160, 120)
        animation.seek(7)
        animation.load()
        assert animation.info["duration"] == 250  # ms: 4 frames per second
    # Fewer than two photos in the period: a clear error, no file.
    with pytest.raises(Exception, match="not enough photos"):
        await hass.services.async_call(
            DOMAIN,
            "make_timelapse",
            {"entity_id": IMAGE, "start": "2020-01-01 00:00:00", "end": "2020-01-02 00:00:00"},
            blocking=True,
            return_response=True,
        )
    assert len(list((media / "pi-1" / "timelapses").iterdir())) == 1
