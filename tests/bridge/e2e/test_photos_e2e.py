"""Plant photos from a real bridge over a real broker: on a timer, around watering runs, through
a broker outage within the disk budget, and with a camera that fails and comes back.

The only fake is the frame source: ``--simulate``'s drawn plant, or a stand-in ``picamera2``
module (tests/bridge/e2e/fake_camera/) that hands the capture process a frame or fails."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image

from hydro_fleet_protocol import Photo

from ..helpers import BridgeProcess, Recorder, wait_until, write_config

FAKE_CAMERA = Path(__file__).parent / "fake_camera"


def photos(rec: Recorder) -> list[Photo]:
    return [Photo.parse(payload) for topic, payload in rec.messages if topic.endswith("/photo")]


async def test_interval_and_watering_photos_are_bounded_jpegs_named_by_the_report(mosquitto, tmp_path):
    camera = {"photo_interval": 3, "width": 640, "height": 480, "max_bytes": 60_000, "quality": 90}
    config = write_config(
        tmp_path / "bridge.yaml", camera=camera, plan_settle_seconds=0, pumps=[{"key": "pump", "flow_ml_per_min": 6000}]
    )
    with BridgeProcess(config, "pi-3", mosquitto.port, interval=0.5) as bridge:
        async with Recorder(mosquitto.port) as rec:
            discovery = await rec.wait_for("config")
            assert discovery["cameras"] == [{"key": "plant", "name": "Plant", "photo_interval": 3}]
            await wait_until(lambda: len(photos(rec)) >= 2, 30, "two interval photos")
            ack = await rec.command("pi-3", "set_plan", "plan", type="basic", volume_ml=20.0, check_interval=4)
            assert ack["ok"], ack
            report = await rec.wait_for("event", lambda m: m["type"] == "watering_report", timeout=30)
            # The report goes out at once; its after photo follows from the photo buffer.
            named = {report["data"]["photo_before"], report["data"]["photo_after"]}
            await wait_until(lambda: named <= {p.meta.id for p in photos(rec)}, 30, "the report's photos")
            state = await rec.wait_for("state", lambda m: "camera_ok" in m["health"])
        bridge.stop()
    assert state["health"]["camera_ok"] is True
    assert state["health"]["photos_dropped"] == 0
    taken = {p.meta.id: p for p in photos(rec)}
    before, after = taken[report["data"]["photo_before"]], taken[report["data"]["photo_after"]]
    assert (before.meta.reason, after.meta.reason) == ("before_watering", "after_watering")
    assert before.meta.ts < report["data"]["start"] + 5 and after.meta.ts > before.meta.ts
    intervals = [p for p in taken.values() if p.meta.reason == "interval"]
    assert len(intervals) >= 2
    for photo in taken.values():
        assert photo.meta.camera == "plant" and photo.meta.size <= 60_000
        image = Image.open(io.BytesIO(photo.jpeg))
        assert image.format == "JPEG" and image.size == (photo.meta.width, photo.meta.height)
        assert image.width <= 640 and image.height <= 480


async def test_photos_wait_out_an_outage_within_the_budget_and_follow_the_readings(socket_enabled, tmp_path):
    from devtools.mosquitto import Mosquitto

    work = tmp_path / "mq"
    broker = Mosquitto(workdir=work)
    broker.start()
    # About 15 KB a photo: a 0.05 MB budget holds three; the rest are dropped, oldest first. A photo
    # every 6 s against one sent per 2.5 s (the protocol's spacing): the buffer drains in about 15 s
    # once the broker is back (at one every 3 s the margin was so thin that three left took ~60 s).
    camera = {"photo_interval": 6, "width": 640, "height": 480, "disk_budget_mb": 0.05}
    config = write_config(tmp_path / "bridge.yaml", camera=camera, buffer={"batch_size": 50})
    buffer_dir = tmp_path / "state" / "photos"
    try:
        with BridgeProcess(config, "pi-4", broker.port, interval=0.05) as bridge:
            async with Recorder(broker.port) as rec:
                await wait_until(lambda: len(photos(rec)) >= 1, 30, "a first photo")
            broker.stop()
            await wait_until(lambda: len(list(buffer_dir.glob("*.photo"))) >= 3, 30, "photos buffered")
            oldest = min(p.name for p in buffer_dir.glob("*.photo")).split(".")[0]
            await asyncio.sleep(13)  # two more photos than the budget holds
            assert sum(p.stat().st_size for p in buffer_dir.glob("*.photo")) <= 50_000
            broker.start()
            async with Recorder(broker.port) as rec2:
                await wait_until(lambda: not list(buffer_dir.glob("*.photo*")), 60, "photo buffer drained")
                await rec2.wait_for("event", lambda m: m["type"] == "buffer_dropped" and "photos" in m["data"])
                await asyncio.sleep(1)  # a state after the last drop
            bridge.stop()
    finally:
        broker.stop()
    # Every drop was reported as an event (kept in the outbox while offline) and counted in health.
    reported = sum(m["data"]["photos"] for m in rec2.payloads("event") if m["type"] == "buffer_dropped")
    assert reported >= 1
    assert rec2.payloads("state")[-1]["health"]["photos_dropped"] == reported
    topics = [topic.rsplit("/", 1)[1] for topic, _payload in rec2.messages]
    sent = [p.meta.id for p in photos(rec2)]
    # The oldest photo of the outage was dropped; the newest ones arrived, oldest first...
    assert len(sent) >= 3 and oldest not in sent
    assert sent == sorted(sent)
    # ...after the readings' backlog: no backfill batch comes after the first photo.
    assert "backfill" in topics
    assert max(i for i, t in enumerate(topics) if t == "backfill") < topics.index("photo")


async def test_a_failing_camera_is_reported_once_retried_and_never_stops_sampling(mosquitto, tmp_path):
    broken = tmp_path / "camera-broken"
    broken.write_text("the ribbon cable is out")
    camera = {"source": "picamera2", "photo_interval": 1, "width": 320, "height": 240}
    config = write_config(tmp_path / "bridge.yaml", camera=camera)
    env = {"PYTHONPATH": f"{FAKE_CAMERA}:{Path.cwd()}", "FAKE_CAMERA_BROKEN": str(broken)}
    with BridgeProcess(config, "pi-5", mosquitto.port, interval=0.2, env=env) as bridge:
        async with Recorder(mosquitto.port) as rec:
            failed = await rec.wait_for("state", lambda m: m["health"].get("camera_ok") is False, timeout=30)
            seq_at_failure = failed["seq"]
            await asyncio.sleep(4)  # four more failed tries
            states = [m for m in rec.payloads("state") if m["seq"] > seq_at_failure]
            assert len(states) >= 10, "sampling goes on while the camera fails"
            assert not photos(rec)
            broken.unlink()
            await rec.wait_for("state", lambda m: m["health"].get("camera_ok") is True, timeout=30)
            await wait_until(lambda: len(photos(rec)) >= 1, 30, "a photo once the camera is back")
        bridge.stop()
    log = bridge.log()
    assert log.count("camera plant failed: RuntimeError: the ribbon cable is out") == 1, log
    assert log.count("camera plant works again") == 1
    image = Image.open(io.BytesIO(photos(rec)[0].jpeg))
    assert image.size == (320, 240)
    assert image.getpixel((5, 5)) == image.getpixel((300, 200))  # the fake's flat frame, re-encoded


async def test_a_node_without_a_camera_announces_none(mosquitto, tmp_path):
    config = write_config(tmp_path / "bridge.yaml")
    with BridgeProcess(config, "pi-6", mosquitto.port, interval=0.2) as bridge:
        async with Recorder(mosquitto.port) as rec:
            discovery = await rec.wait_for("config")
            state = await rec.wait_for("state")
        bridge.stop()
    assert "cameras" not in discovery
    assert "camera_ok" not in state["health"] and "photos_dropped" not in state["health"]
    assert not (tmp_path / "state" / "photos").exists()


async def test_a_usb_webcam_that_is_not_there_is_reported_through_the_real_v4l2_library(mosquitto, tmp_path):
    # No frame source is faked here: linuxpy itself opens the device node, which does not exist.
    device = tmp_path / "video7"
    camera = {"source": "usb", "device": str(device), "photo_interval": 1, "width": 320, "height": 240}
    config = write_config(tmp_path / "bridge.yaml", camera=camera)
    with BridgeProcess(config, "pi-8", mosquitto.port, interval=0.2) as bridge:
        async with Recorder(mosquitto.port) as rec:
            await rec.wait_for("state", lambda m: m["health"].get("camera_ok") is False, timeout=30)
            await asyncio.sleep(3)  # more failed tries
            assert rec.payloads("state")[-1]["health"]["camera_ok"] is False
            assert not photos(rec)
        bridge.stop()
    failures = [line for line in bridge.log().splitlines() if "camera plant failed" in line]
    assert len(failures) == 1, failures
    assert str(device) in failures[0] and "No such file or directory" in failures[0]
