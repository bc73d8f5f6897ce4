"""Each deployable carries the one protocol definition."""

from __future__ import annotations

import ast
from pathlib import Path
import zipfile

REPO = Path(__file__).resolve().parent.parent
PROTOCOL = REPO / "custom_components" / "hydro_fleet" / "protocol"


def test_protocol_has_no_home_assistant_import() -> None:
    for source in PROTOCOL.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not any(name.startswith("homeassistant") for name in names), f"{source.name} imports {names}"


def test_hacs_download_contains_the_protocol() -> None:
    # HACS downloads only custom_components/hydro_fleet/: the protocol must be real files there.
    assert PROTOCOL.is_dir()
    assert not PROTOCOL.is_symlink()
    assert (PROTOCOL / "discovery.py").is_file()


def test_pi_wheel_carries_the_protocol(built_wheel: Path) -> None:
    wheel = built_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for source in PROTOCOL.glob("*.py"):
        assert f"hydro_fleet_protocol/{source.name}" in names
    assert "pi_bridge/app.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "hydro-fleet-bridge = pi_bridge.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_pi_code_parses_as_python_3_11() -> None:
    # Raspberry Pi OS (bookworm) ships Python 3.11; the bridge and the protocol must run there.
    sources = [*PROTOCOL.glob("*.py"), *(REPO / "pi_bridge").glob("*.py")]
    for source in sources:
        ast.parse(source.read_text(), filename=str(source), feature_version=(3, 11))
