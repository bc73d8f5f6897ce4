"""Options as an operator writes them (issue #17 item 15): defaults for every key left out,
the complete sample in docs/receiver.md, ``--port`` over the ``port`` option, and a
timestamp rejection stated in the terms it was checked in."""

from __future__ import annotations

from dataclasses import fields
import json
from pathlib import Path
import re
import socket
import subprocess
import sys
import time

import pytest
import requests

from devtools.mosquitto import free_port
from devtools.processes import stop_process
from hydro_fleet_receiver.options import OPTION_KEYS, OPTIONAL_KEYS, Options, parse_options

from .conftest import Harness, full_sync

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "receiver.md"
REQUIRED = {"secrets": ["a-long-enough-secret"], "admin_email": "a@b.c", "admin_password": "12345678"}


def test_a_file_with_only_the_required_keys_takes_the_defaults() -> None:
    options = parse_options(dict(REQUIRED))
    assert options == Options(secrets=("a-long-enough-secret",), admin_email="a@b.c", admin_password="12345678")
    assert (options.port, options.timestamp_window, options.topic_prefix, options.allowed_ips) == (
        8010,
        300,
        "hydro_fleet",
        (),
    )
    # null is "not set" (what the Supervisor writes for an empty field): the default too.
    assert parse_options(REQUIRED | {"port": None, "log_level": None}) == options


def _json_blocks(text: str) -> list[str]:
    return re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)


def test_docs_give_a_complete_sample_that_parses() -> None:
    section = DOC.read_text().split("## Options", 1)[1].split("\n## ", 1)[0]
    samples = [json.loads(block) for block in _json_blocks(section)]
    complete = [s for s in samples if set(s) == set(OPTION_KEYS)]
    assert complete, "docs/receiver.md#options has no sample with every option"
    options = parse_options(complete[0])
    defaults = Options(secrets=options.secrets, admin_email=options.admin_email, admin_password=options.admin_password)
    for f in fields(Options):
        if f.name not in OPTIONAL_KEYS and f.name not in REQUIRED:
            assert getattr(options, f.name) == getattr(defaults, f.name), f"sample's {f.name} is not the default"
    smallest = [s for s in samples if set(s) == set(REQUIRED)]
    assert smallest, "docs/receiver.md#options has no minimal sample"
    parse_options(smallest[0])
    assert "--port` wins over the `port` option" in section


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_port_flag_wins_over_the_port_option(socket_enabled: None, tmp_path: Path) -> None:
    option_port, flag_port = free_port(), free_port()
    path = tmp_path / "options.json"
    path.write_text(json.dumps(REQUIRED | {"port": option_port}))
    args = [sys.executable, "-m", "hydro_fleet_receiver", "--options", str(path), "--data-dir", str(tmp_path / "d")]
    log = (tmp_path / "receiver.log").open("wb")
    process = subprocess.Popen(
        [*args, "--host", "127.0.0.1", "--port", str(flag_port)], stdout=log, stderr=subprocess.STDOUT, cwd=REPO
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "receiver.log").read_text()
            try:
                if requests.get(f"http://127.0.0.1:{flag_port}/api/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the receiver did not answer on the --port port"
            time.sleep(0.05)
        assert _refused(option_port)
    finally:
        stop_process(process, 10)
        log.close()
    assert f"listening on 127.0.0.1:{flag_port}" in (tmp_path / "receiver.log").read_text()


@pytest.mark.parametrize(("offset", "direction"), [(305, "ahead of"), (-305, "behind")])
async def test_timestamp_rejection_states_the_limit_in_the_same_terms(
    receiver: Harness, offset: int, direction: str
) -> None:
    answer = await receiver.post(full_sync(), ts=int(time.time()) + offset)
    assert answer.status == 403
    match = re.fullmatch(
        rf"X-Timestamp is (\d+) s {direction} the receiver's clock; the limit is 300 s ahead or behind",
        answer.json["detail"],
    )
    assert match, answer.json["detail"]
    assert int(match[1]) > 300
