"""Photos in Home Assistant (issue 16): latency, event-loop cost and loop lag under a photo burst.

Run: ``python -m pytest bench/bench_photos.py -s -p no:logging``. Like bench_fleet.py it runs
in Home Assistant's own test harness: a real ``hass`` core, the real MQTT integration (its
paho client mocked; messages enter at ``on_message``), our integration, and in the recorder
variants the recorder. Photos are 300 KB JPEGs (a noisy 1280x960 frame), stored under a
temporary media folder.

- **latency**: one photo at a time, from the MQTT message to the ``image`` entity's new
  state; p50/p99 over 200 photos. Baseline in the same run: a node sample to its sensor's
  new state, the path every reading takes.
- **loop cost**: event-loop thread CPU (``time.thread_time()``, so the executor threads that
  hash, decode and write are not counted) per photo over 100 photos, against the harness's
  cost of delivering the same 300 KB message to a topic nobody subscribes to.
- **burst**: 100 nodes sampling once a second each send one photo at a random moment of
  10 s; a 10 ms probe measures event-loop lag. Baseline: the same 10 s of samples without
  photos, in the same run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import dataclasses
import io
import logging
from pathlib import Path
import random
import statistics
import time
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.core import Event, EventStateChangedData, HomeAssistant
from PIL import Image
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import async_wait_recording_done

from custom_components.hydro_fleet.const import CONF_PREFIX, DOMAIN

from .load import LagProbe, fire, node_config, node_id, our_state, readings

from hydro_fleet_protocol import CameraConfig, Photo, PhotoReason, State, encode  # isort: skip

NODES = 100
PHOTO_BYTES = 300_000
LATENCY_PHOTOS = 200
COST_PHOTOS = 100
BURST_SECONDS = 10.0


@pytest.fixture(autouse=True)
def production_log_level() -> Iterator[None]:
    loggers = [logging.getLogger(), logging.getLogger("sqlalchemy.engine")]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    yield
    for logger, level in zip(loggers, previous, strict=True):
        logger.setLevel(level)


@pytest.fixture
def recorder_config() -> dict[str, Any]:
    return {"commit_interval": 5}


@pytest.fixture(autouse=True)
def mock_recorder_before_hass(async_test_recorder: Any) -> None:
    """Lets the recorder variants set the recorder up before hass."""


@pytest.fixture(autouse=True)
def media(hass: HomeAssistant, tmp_path: Path) -> Path:
    hass.config.media_dirs = {"local": str(tmp_path)}
    return tmp_path


def jpeg_of_about(size: int) -> bytes:
    """A noisy 1280x960 JPEG of about ``size`` bytes (noise is what makes a real photo big)."""
    rng = random.Random(16)
    base = Image.effect_noise((1280, 960), 40).convert("RGB")
    tint = Image.new("RGB", base.size, (rng.randrange(256), 140, 60))
    image = Image.blend(base, tint, 0.5)
    best = b""
    for quality in range(95, 20, -5):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        best = out.getvalue()
        if len(best) <= size:
            break
    return best


JPEG = jpeg_of_about(PHOTO_BYTES)


def payloads(count: int, start: float) -> list[bytes]:
    return [Photo.build("plant", start + i, PhotoReason.INTERVAL, JPEG, 1280, 960).encode() for i in range(count)]


async def _fleet(hass: HomeAssistant, nodes: int) -> None:
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    camera = (CameraConfig("plant", "Plant", photo_interval=3600),)
    for index in range(nodes):
        config = dataclasses.replace(node_config(index, full=True), cameras=camera)
        fire(hass, f"hydro_fleet/{node_id(index)}/config", encode(config))
        fire(hass, f"hydro_fleet/{node_id(index)}/availability", "online")
        fire(hass, f"hydro_fleet/{node_id(index)}/state", our_state(index, 0))
    await hass.async_block_till_done()


def _image(index: int) -> str:
    return f"image.{node_id(index).replace('-', '_')}_plant_photo"


async def _changed(hass: HomeAssistant, entity_id: str, send: Any) -> float:
    """Seconds from ``send()`` to ``entity_id``'s next state change."""
    done: asyncio.Future[float] = hass.loop.create_future()

    def changed(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] == entity_id and not done.done():
            done.set_result(time.perf_counter())

    remove = hass.bus.async_listen("state_changed", changed)
    started = time.perf_counter()
    send()
    try:
        async with asyncio.timeout(30):
            return await done - started
    finally:
        remove()


def _pct(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


async def _latency(hass: HomeAssistant, label: str) -> None:
    await _fleet(hass, NODES)
    photos = payloads(LATENCY_PHOTOS, time.time() - 86400)
    photo_ms, sample_ms = [], []
    for i, payload in enumerate(photos):
        index = i % NODES
        topic = f"hydro_fleet/{node_id(index)}/photo"
        photo_ms.append(1000 * await _changed(hass, _image(index), lambda t=topic, p=payload: fire(hass, t, p)))
        # Only moisture changes (by a whole 10 %, so its shown value does): one sensor state written.
        moisture = 40.0 + 10 * (i // NODES % 2 == 0)
        state = encode(State(ts=time.time(), seq=1 + i, readings=readings(index, 0) | {"moisture": moisture}))
        sensor = f"sensor.{node_id(index).replace('-', '_')}_moisture"
        sample_topic = f"hydro_fleet/{node_id(index)}/state"
        sample_ms.append(1000 * await _changed(hass, sensor, lambda t=sample_topic, s=state: fire(hass, t, s)))
    p99, base99 = _pct(photo_ms, 99), _pct(sample_ms, 99)
    print(
        f"\nphoto latency [{label}] {len(photos)} photos of {len(JPEG) / 1000:.0f} KB, publish to image entity "
        f"updated: p50 {statistics.median(photo_ms):.1f} ms, p99 {p99:.1f} ms, max {max(photo_ms):.1f} ms "
        f"(goal p99 < 1000 ms); baseline, a sample to its sensor: p50 {statistics.median(sample_ms):.2f} ms, "
        f"p99 {base99:.2f} ms; ratio p99 {p99 / base99:.0f}x"
    )


async def _loop_cost(hass: HomeAssistant, label: str) -> None:
    await _fleet(hass, NODES)
    photos = payloads(COST_PHOTOS, time.time() - 86400)
    # Baseline: the harness delivering the same payloads to a topic nobody subscribes to.
    cpu = time.thread_time()
    for payload in photos:
        fire(hass, "elsewhere/photo", payload)
    await hass.async_block_till_done(wait_background_tasks=True)
    baseline = (time.thread_time() - cpu) / len(photos)
    cpu = time.thread_time()
    for i, payload in enumerate(photos):
        fire(hass, f"hydro_fleet/{node_id(i % NODES)}/photo", payload)
    await hass.async_block_till_done(wait_background_tasks=True)
    ours = (time.thread_time() - cpu) / len(photos)
    shown = sum(1 for i in range(NODES) if hass.states.get(_image(i)).state not in ("unknown", "unavailable"))
    assert shown == min(NODES, len(photos))
    print(
        f"\nphoto loop cost [{label}] {len(photos)} photos of {len(JPEG) / 1000:.0f} KB: event-loop CPU "
        f"{ours * 1000:.3f} ms per photo (goal < 2 ms); baseline delivery {baseline * 1000:.3f} ms; "
        f"net {(ours - baseline) * 1000:.3f} ms; ratio {ours / baseline:.1f}x"
    )


async def _burst(hass: HomeAssistant, label: str) -> None:
    await _fleet(hass, NODES)
    photos = payloads(NODES, time.time() - 86400)

    async def run(with_photos: bool, seq: int) -> LagProbe:
        rng = random.Random(7)
        when = sorted((rng.uniform(0, BURST_SECONDS), i) for i in range(NODES)) if with_photos else []
        probe = LagProbe()
        probe.start()
        start = time.perf_counter()
        sent_samples = 0
        while (elapsed := time.perf_counter() - start) < BURST_SECONDS:
            while sent_samples < int(elapsed * NODES):  # one sample per node per second
                index = sent_samples % NODES
                fire(hass, f"hydro_fleet/{node_id(index)}/state", our_state(index, seq + sent_samples // NODES))
                sent_samples += 1
            while when and when[0][0] <= elapsed:
                _, index = when.pop(0)
                fire(hass, f"hydro_fleet/{node_id(index)}/photo", photos[index])
            await asyncio.sleep(0.005)
        await hass.async_block_till_done(wait_background_tasks=True)
        await probe.stop()
        return probe

    # As in P2: the recorder first writes the start-up burst (every entity's first state) on its
    # thread; both runs start once it has.
    recorder = "recorder" in hass.config.components
    if recorder:
        await async_wait_recording_done(hass)
    baseline = await run(False, 1)
    if recorder:
        await async_wait_recording_done(hass)
    burst = await run(True, 100)
    shown = sum(1 for i in range(NODES) if hass.states.get(_image(i)).state not in ("unknown", "unavailable"))
    assert shown == NODES
    print(
        f"\nphoto burst [{label}] {NODES} nodes, 1 sample/s each, one {len(JPEG) / 1000:.0f} KB photo each within "
        f"{BURST_SECONDS:g} s: {burst.summary()} (goal p99 < 50 ms); same samples without photos: "
        f"{baseline.summary()}; ratio p99 {burst.percentile(99) / baseline.percentile(99):.2f}x; {shown} images shown"
    )


async def test_latency_without_recorder(hass: HomeAssistant, mqtt_mock: Any) -> None:
    await _latency(hass, "no recorder")


async def test_latency_with_recorder(recorder_mock: Recorder, hass: HomeAssistant, mqtt_mock: Any) -> None:
    await _latency(hass, "recorder")


async def test_loop_cost_without_recorder(hass: HomeAssistant, mqtt_mock: Any) -> None:
    await _loop_cost(hass, "no recorder")


async def test_loop_cost_with_recorder(recorder_mock: Recorder, hass: HomeAssistant, mqtt_mock: Any) -> None:
    await _loop_cost(hass, "recorder")


async def test_burst_without_recorder(hass: HomeAssistant, mqtt_mock: Any) -> None:
    await _burst(hass, "no recorder")


async def test_burst_with_recorder(recorder_mock: Recorder, hass: HomeAssistant, mqtt_mock: Any) -> None:
    await _burst(hass, "recorder")
