"""The add-on's files agree with the receiver: options, schema, translations, images, image build."""

from __future__ import annotations

import ast
from dataclasses import MISSING, fields
import json
from pathlib import Path
import struct
import subprocess
import tomllib
import zipfile
import zlib

import pytest
import yaml

from devtools.addon_container import CONTAINER_PORT, run_sh_command
from hydro_fleet_receiver import __version__
from hydro_fleet_receiver.cli import main as cli_main
from hydro_fleet_receiver.options import (
    OPTION_KEYS,
    OPTIONAL_KEYS,
    Options,
    OptionsError,
    default_options_dict,
    load_options,
    parse_options,
)

REPO = Path(__file__).resolve().parents[2]
ADDON = REPO / "addon"


def _config() -> dict:
    return yaml.safe_load((ADDON / "config.yaml").read_text())


# Receiver options the add-on does not offer: it always listens on the container port its
# `ports` mapping names, and the host port is set in the add-on's Network panel.
NOT_ADDON_OPTIONS = frozenset({"port"})


def test_options_and_schema_match_the_receiver() -> None:
    config = _config()
    assert config["version"] == __version__
    assert set(config["schema"]) == set(OPTION_KEYS) - NOT_ADDON_OPTIONS
    # Optional keys are marked '?' in the schema and have no default; the others have one.
    for key in set(OPTION_KEYS) - NOT_ADDON_OPTIONS:
        spec = config["schema"][key]
        optional = isinstance(spec, str) and spec.endswith("?")
        assert optional == (key in OPTIONAL_KEYS), key
        assert (key in config["options"]) == (not optional), key
    defaults = {f.name: f.default for f in fields(Options)}
    for key, value in config["options"].items():
        if defaults[key] is MISSING:
            assert value is None, f"{key} must be null (required from the user)"
        else:
            expected = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
            assert value == expected, key


def test_supervisor_style_options_file(tmp_path: Path) -> None:
    """What the Supervisor writes: every key, the required ones filled in, optional ones left out."""
    data = _config()["options"] | {
        "secrets": ["a-long-enough-secret"],
        "admin_email": "a@b.c",
        "admin_password": "12345678",
    }
    path = tmp_path / "options.json"
    path.write_text(json.dumps(data))
    options = load_options(path)
    assert options.port == 8010 and options.secrets == ("a-long-enough-secret",)
    assert "a-long-enough-secret" not in repr(options) and "12345678" not in repr(options)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"secrets": None}, "missing option(s): secrets"),
        ({"secrets": ["short"]}, "shorter than 16"),
        ({"sekrets": ["x"]}, "unknown option(s): sekrets"),
        ({"port": "8010"}, "'port' must be an integer"),
        ({"allowed_ips": ["10.0.0.0/8", "not-an-ip"]}, "'allowed_ips' has an entry"),
        ({"certfile": "../etc/passwd"}, "'certfile' must be a file name"),
        ({"node_id": "Receiver!"}, "'node_id' must match"),
        ({"log_level": "verbose"}, "'log_level' must be one of"),
        ({"ssl": "yes"}, "'ssl' must be true or false"),
        ({"lorawan_token": "short"}, "'lorawan_token' is shorter than 16"),
        ({"lorawan_header": "Bad Header:"}, "'lorawan_header' must be an HTTP header name"),
        ({"lorawan_timeout": 10}, "'lorawan_timeout' must be an integer"),
    ],
)
def test_bad_options_are_named(change: dict, message: str) -> None:
    data = default_options_dict(secrets=["a-long-enough-secret"], admin_email="a@b.c", admin_password="12345678")
    with pytest.raises(OptionsError) as err:
        parse_options(data | change)
    assert message in str(err.value)
    assert "a-long-enough-secret" not in str(err.value)


def test_cli_reports_bad_options_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "options.json"
    path.write_text("{not json")
    assert cli_main(["--options", str(path), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hydro-fleet-receiver: the options file") and "\n" not in err


def test_translations_cover_every_option() -> None:
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text())
    assert set(translations["configuration"]) == set(OPTION_KEYS) - NOT_ADDON_OPTIONS
    for key, entry in translations["configuration"].items():
        assert entry["name"] and entry["description"], key


def test_addon_manifest_rules() -> None:
    config = _config()
    assert config["services"] == ["mqtt:need"]
    assert config["init"] is False  # s6-overlay v3 in the base image must be PID 1
    assert set(config["arch"]) == {"aarch64", "amd64"}
    assert "ssl" in config["map"]
    # Keys at their default value are noise the add-on linter flags.
    for key, default in (("init", True), ("boot", "auto"), ("startup", "application"), ("stage", "stable")):
        assert config.get(key, object()) != default, key
    build = yaml.safe_load((ADDON / "build.yaml").read_text())
    for arch in config["arch"]:
        assert build["build_from"][arch].startswith(f"ghcr.io/home-assistant/{arch}-base-python:")
    dockerfile = (ADDON / "Dockerfile").read_text()
    assert dockerfile.startswith("ARG BUILD_FROM=ghcr.io/home-assistant/")
    assert "hydro-fleet[receiver] @ ${HYDRO_FLEET_SOURCE}" in dockerfile
    run = (ADDON / "run.sh").read_text()
    assert "/data/options.json" in run and "bashio::services" in run
    assert (ADDON / "run.sh").stat().st_mode & 0o111
    for name in ("DOCS.md", "CHANGELOG.md"):
        assert (ADDON / name).read_text().strip()
    assert yaml.safe_load((REPO / "repository.yaml").read_text())["name"]


@pytest.mark.parametrize(("name", "size"), [("icon.png", (128, 128)), ("logo.png", (250, 100))])
def test_images_are_valid_pngs(name: str, size: tuple[int, int]) -> None:
    data = (ADDON / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        assert struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    assert struct.unpack(">II", chunks[b"IHDR"][:8]) == size
    width, height = size
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 4 * width)


def test_addon_wheel_carries_receiver_and_protocol(built_wheel: Path) -> None:
    wheel = zipfile.ZipFile(built_wheel)
    names = set(wheel.namelist())
    for module in ("app", "cli", "storage/__init__", "storage/store", "storage/postgres", "verification", "__main__"):
        assert f"hydro_fleet_receiver/{module}.py" in names
    assert "hydro_fleet_protocol/discovery.py" in names
    entry_points = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "hydro-fleet-receiver = hydro_fleet_receiver.cli:main" in entry_points
    metadata = wheel.read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert "Provides-Extra: receiver" in metadata


def test_build_context_is_complete_in_a_clean_clone() -> None:
    """What the Dockerfile copies is committed inside addon/: the store builds addon/ alone."""
    tracked = set(
        subprocess.run(["git", "-C", str(ADDON), "ls-files"], check=True, capture_output=True, text=True).stdout.split()
    )
    ignored = subprocess.run(
        ["git", "-C", str(ADDON), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(str(p.relative_to(ADDON)) for p in ADDON.rglob("*")),
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert not ignored, f"git-ignored files in the build context: {ignored}"
    for line in (ADDON / "Dockerfile").read_text().splitlines():
        if line.startswith(("COPY", "ADD")):
            sources = [word for word in line.split()[1:-1] if not word.startswith("--")]
            for source in sources:
                folder = source.rstrip("/") + "/"
                assert source in tracked or any(name.startswith(folder) for name in tracked), (
                    f"Dockerfile copies {source}, which a clone of the repository lacks"
                )
    # The store builds the tag of this version; the URL must name it, and the tag's
    # project must carry the same version (.github/workflows/release.yaml checks the tag).
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert project == _config()["version"] == __version__
    assert "archive/refs/tags/v${BUILD_VERSION}.tar.gz" in (ADDON / "Dockerfile").read_text()


def test_listener_health_check_and_mapping_name_the_same_port() -> None:
    """The gateway reaches the container port config.yaml maps; the receiver and the check use it."""
    assert _config()["ports"] == {f"{CONTAINER_PORT}/tcp": CONTAINER_PORT}
    command = run_sh_command()
    assert command[command.index("--port") + 1] == str(CONTAINER_PORT)
    healthcheck = ast.parse((ADDON / "healthcheck.py").read_text())
    ports = [
        node.value.value
        for node in healthcheck.body
        if isinstance(node, ast.Assign)
        and ast.unparse(node.targets[0]) == "PORT"
        and isinstance(node.value, ast.Constant)
    ]
    assert ports == [CONTAINER_PORT]
    assert 'options.get("port"' not in (ADDON / "healthcheck.py").read_text()
