"""Build and run the receiver add-on's image as the Supervisor does, with podman and buildah.

The Supervisor builds ``addon/`` as the whole Docker build context with the build args
``BUILD_FROM`` (build.yaml's base for the machine), ``BUILD_VERSION`` (config.yaml's
version) and ``BUILD_ARCH``, then runs the image with config.yaml's port mapping and the
add-on's ``/data``. This module does the same without a Docker daemon (``buildah bud``,
``podman run``), for ``scripts/build-addon`` and ``tests/addon/``. What differs:

- ``HYDRO_FLEET_SOURCE`` points the Dockerfile at an archive of this working tree, laid
  out like GitHub's release archive and mounted into the build, instead of the tagged
  release on GitHub (not reachable here, and not the code under test).
- Where no image registry is reachable, the base is a **stand-in**: Debian trixie
  (``debootstrap --variant=minbase`` plus its python3, 3.13 like HA's, pip and CA
  certificates), imported as a local image. Compared with HA's
  ``*-base-python:3.13-alpine3.21`` it lacks Alpine (it is glibc Debian, so pip takes
  manylinux wheels where the real image takes musllinux ones, and Debian's Python build
  rather than HA's), s6-overlay (no ``/init`` as PID 1, no ``with-contenv``) and bashio
  (no Supervisor API client). So on the stand-in the container runs the receiver
  command that ``run.sh`` execs (:func:`run_sh_command`) instead of ``run.sh`` itself,
  with the broker arguments run.sh's bashio lookup of the Supervisor's MQTT service
  would add; the receiver code is the same pip install.
- The network: podman's slirp4netns publishes container port 8010 on a loopback port
  (the Supervisor maps it on the host's address) and the container reaches the host's
  Mosquitto at 10.0.2.2 (under the Supervisor, the Mosquitto add-on on its network).
  podman runs the HEALTHCHECK on a systemd timer, and there is no systemd here: callers run
  it themselves (``podman healthcheck run``).

Containers use their own storage under the project cache (``vfs``: no overlayfs needed),
so the stand-in base is built once and an image is reused while its inputs are unchanged.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
import contextlib
from dataclasses import dataclass
import fcntl
import gzip
import hashlib
import io
import os
from pathlib import Path
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import yaml

REPO = Path(__file__).resolve().parent.parent
ADDON = REPO / "addon"
# The port config.yaml maps, run.sh listens on and healthcheck.py probes.
CONTAINER_PORT = 8010
STANDIN_SUITE = "trixie"  # Python 3.13, as HA's base image has
STANDIN_PACKAGES = ("python3", "python3-pip", "ca-certificates")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Where the build sees the working tree's archive (a RUN mount, not part of the image).
SOURCE_MOUNT = "/run/hydro-fleet-source"
# podman's slirp4netns network: the container reaches the host's loopback at this address.
HOST_LOOPBACK_FROM_CONTAINER = "10.0.2.2"
ULIMITS = ("--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")


def cache_dir() -> Path:
    """The project cache scripts/_env.sh uses for the venvs."""
    if os.environ.get("HYDRO_FLEET_CACHE"):
        return Path(os.environ["HYDRO_FLEET_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hydro-fleet"


def addon_config() -> dict[str, object]:
    return dict(yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8")))


def build_arch() -> str:
    """The Supervisor's name for this machine's architecture."""
    return {"x86_64": "amd64", "aarch64": "aarch64", "arm64": "aarch64"}.get(platform.machine(), platform.machine())


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One holder at a time across processes (two test runs must not debootstrap twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@dataclass(frozen=True)
class Tools:
    """podman and buildah on one storage of their own."""

    root: Path
    runroot: Path

    @classmethod
    def default(cls) -> Tools:
        missing = [tool for tool in ("podman", "buildah", "runc", "debootstrap") if shutil.which(tool) is None]
        if missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} not installed: scripts/test installs them as root "
                "(apt-get install -y podman buildah runc slirp4netns debootstrap)"
            )
        return cls(cache_dir() / "containers" / "storage", Path("/run/hydro-fleet-containers"))

    def _storage(self) -> list[str]:
        return ["--root", str(self.root), "--runroot", str(self.runroot), "--storage-driver", "vfs"]

    def buildah(self, *args: str) -> list[str]:
        return ["buildah", *self._storage(), *args]

    def podman(self, *args: str) -> list[str]:
        return ["podman", *self._storage(), "--tmpdir", str(self.runroot / "libpod"), "--runtime", "runc", *args]

    def image_exists(self, name: str) -> bool:
        return subprocess.run(self.podman("image", "exists", name), check=False).returncode == 0

    def image_size(self, name: str) -> int:
        out = subprocess.run(
            self.podman("image", "inspect", "--format", "{{.Size}}", name), check=True, capture_output=True, text=True
        )
        return int(out.stdout.strip())


def _apt_mirror() -> str:
    """The Debian mirror apt is configured with (as scripts/_env.sh finds it)."""
    for path, pattern in (
        (Path("/etc/apt/sources.list.d/debian.sources"), r"^URIs:\s*(\S+)"),
        (Path("/etc/apt/sources.list"), r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)"),
    ):
        if path.is_file() and (found := re.search(pattern, path.read_text(encoding="utf-8"), re.MULTILINE)):
            return found[1]
    return "http://deb.debian.org/debian"


def standin_base(tools: Tools) -> str:
    """The stand-in base image (see the module docstring), built once and cached."""
    mirror = _apt_mirror()
    key = hashlib.sha256(f"{STANDIN_SUITE} {' '.join(STANDIN_PACKAGES)} {mirror}".encode()).hexdigest()[:12]
    name = f"localhost/hydro-fleet-standin-base:{key}"
    with _locked(cache_dir() / "standin-base.lock"):
        if tools.image_exists(name):
            return name
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="standin-") as work:
            rootfs = Path(work) / "rootfs"
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(STANDIN_PACKAGES)}",
                    STANDIN_SUITE,
                    str(rootfs),
                    mirror,
                ],
                check=True,
                capture_output=True,
            )
            # HA's base installs with pip into the system Python (no PEP 668 marker there),
            # and an image carries no apt downloads.
            for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
                marker.unlink()
            for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (rootfs / leftover).glob("*"):
                    if entry.is_file():
                        entry.unlink()
            tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
            subprocess.run(tools.podman("import", "-", name), stdin=tar.stdout, check=True, capture_output=True)
            if tar.wait() != 0:
                raise RuntimeError("tar of the stand-in root file system failed")
    return name


def _source_files() -> list[Path]:
    """What ``git archive`` of this working tree would hold once committed (tracked and new files)."""
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    )
    names = sorted({name for name in out.stdout.decode().split("\0") if name})
    return [REPO / name for name in names if (REPO / name).is_symlink() or (REPO / name).is_file()]


def source_archive(directory: Path, version: str) -> Path:
    """The working tree as GitHub's ``archive/refs/tags/v<version>.tar.gz`` lays it out.

    Byte-identical for identical sources (no times, owners or gzip timestamp), and named
    by its hash: the build arg then changes exactly when the code does, so the build's
    cached pip layer is reused only for the same code.
    """
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for path in _source_files():
            info = tar.gettarinfo(str(path), arcname=f"hydro-fleet-{version}/{path.relative_to(REPO)}")
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            info.mode = 0o755 if info.mode & 0o111 else 0o644
            if info.isfile():
                with path.open("rb") as file:
                    tar.addfile(info, file)
            else:
                tar.addfile(info)
    data = buffer.getvalue()
    archive = directory / f"hydro-fleet-{hashlib.sha256(data).hexdigest()[:16]}.tar.gz"
    archive.write_bytes(data)
    return archive


@dataclass(frozen=True)
class Build:
    image: str
    seconds: float
    cached: bool


def _inputs_key(tools: Tools, base: str, archive: Path, build_args: list[str]) -> str:
    """A hash of everything the image is built from: base, build context, source, build args."""
    digest = hashlib.sha256()
    base_id = subprocess.run(
        tools.podman("image", "inspect", "--format", "{{.Id}}", base), check=False, capture_output=True, text=True
    ).stdout.strip()
    digest.update(f"{base_id}\0{archive.name}\0{chr(0).join(build_args)}\0".encode())
    for path in sorted(p for p in ADDON.rglob("*") if p.is_file()):
        digest.update(f"{path.relative_to(ADDON)}\0{path.stat().st_mode & 0o111}\0".encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def build_image(tools: Tools, base: str) -> Build:
    """``addon/`` built as the Supervisor builds it, the receiver from this working tree.

    The image is tagged with a hash of all its inputs and reused while they are unchanged:
    buildah's own per-step cache (``--layers``) would do the same, but with vfs every step
    is a full copy of the root file system, minutes of copying on a small machine.
    """
    config = addon_config()
    version = str(config["version"])
    arch = build_arch()
    repository = f"localhost/{arch}-addon-{config['slug']}"
    with tempfile.TemporaryDirectory(prefix="hf-addon-build-") as work:
        workdir = Path(work)
        archive = source_archive(workdir, version)
        build_args = [
            *("--build-arg", f"BUILD_FROM={base}"),
            *("--build-arg", f"BUILD_VERSION={version}"),
            *("--build-arg", f"BUILD_ARCH={arch}"),
            *("--build-arg", f"HYDRO_FLEET_SOURCE=file://{SOURCE_MOUNT}/{archive.name}"),
        ]
        tag = f"{repository}:{version}-{_inputs_key(tools, base, archive, build_args)}"
        if tools.image_exists(tag):
            return Build(tag, 0.0, cached=True)
        mounts = ["-v", f"{workdir}:{SOURCE_MOUNT}:ro"]
        # pip inside the build must trust what the host trusts (a TLS-inspecting proxy's
        # CA, on some networks); HA's base image needs nothing of the kind on a plain network.
        if HOST_CA_BUNDLE.is_file():
            pip_conf = workdir / "pip.conf"
            pip_conf.write_text("[global]\ncert = /run/host-ca.crt\n")
            mounts += ["-v", f"{HOST_CA_BUNDLE}:/run/host-ca.crt:ro", "-v", f"{pip_conf}:/etc/pip.conf:ro"]
        args = [
            "bud",
            # HEALTHCHECK exists only in Docker's image format, which the Supervisor builds.
            *("--format", "docker"),
            *("--runtime", "runc", "--isolation", "chroot", "--ulimit", "nofile=20000:20000"),
            *mounts,
            *build_args,
            *("-t", tag),
            str(ADDON),
        ]
        started = time.monotonic()
        done = subprocess.run(tools.buildah(*args), check=False, capture_output=True, text=True)
        seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"buildah bud failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    _remove_older(tools, repository, keep=tag)
    return Build(tag, seconds, cached=False)


def _remove_older(tools: Tools, repository: str, keep: str) -> None:
    """Images of earlier sources: vfs keeps a full copy of each."""
    listed = subprocess.run(
        tools.podman("images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", f"reference={repository}"),
        check=False,
        capture_output=True,
        text=True,
    )
    older = [name for name in listed.stdout.split() if name != keep]
    if older:
        subprocess.run(tools.podman("rmi", "--force", *older), check=False, capture_output=True)


def run_sh_command() -> list[str]:
    """The receiver command run.sh execs, before the broker arguments its bashio part adds."""
    text = (ADDON / "run.sh").read_text(encoding="utf-8")
    fixed = re.search(r"^args=\((.+)\)$", text, re.MULTILINE)
    exec_line = re.search(r'^exec (.+) "\$\{args\[@\]\}"$', text, re.MULTILINE)
    if fixed is None or exec_line is None:
        raise ValueError('addon/run.sh must set args=(...) and end with exec <command> "${args[@]}"')
    return [*shlex.split(exec_line[1]), *shlex.split(fixed[1])]


@dataclass
class Container:
    tools: Tools
    id: str

    def logs(self) -> str:
        out = subprocess.run(self.tools.podman("logs", self.id), check=False, capture_output=True, text=True)
        return out.stdout + out.stderr

    def is_running(self) -> bool:
        out = subprocess.run(
            self.tools.podman("inspect", "--format", "{{.State.Running}}", self.id),
            check=False,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip() == "true"

    def healthcheck(self) -> bool:
        """Runs the image's HEALTHCHECK once, as Docker's timer would."""
        done = subprocess.run(self.tools.podman("healthcheck", "run", self.id), check=False, capture_output=True)
        return done.returncode == 0


@contextlib.contextmanager
def running(tools: Tools, image: str, data: Path, host_port: int, command: list[str]) -> Iterator[Container]:
    """The image with the add-on's ``/data`` and config.yaml's mapping to ``host_port`` on loopback.

    slirp4netns publishes the port as the Supervisor's mapping does and lets the
    container reach the host's loopback (the test's Mosquitto) at 10.0.2.2.
    """
    args = [
        "run",
        "--detach",
        *ULIMITS,
        "--network",
        "slirp4netns:allow_host_loopback=true",
        "--publish",
        f"127.0.0.1:{host_port}:{CONTAINER_PORT}",
        "--volume",
        f"{data}:/data",
        # No systemd here to run the health check on a timer; the tests run it themselves.
        "--health-interval",
        "disable",
        image,
        *command,
    ]
    started = subprocess.run(tools.podman(*args), check=True, capture_output=True, text=True)
    container = Container(tools, started.stdout.strip())
    try:
        yield container
    finally:
        subprocess.run(tools.podman("rm", "--force", "--time", "10", container.id), check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the receiver add-on's image from this working tree.")
    parser.add_argument(
        "--base",
        help="base image (default: the stand-in Debian base, built once; where ghcr.io is reachable, "
        "build.yaml's HA base, e.g. ghcr.io/home-assistant/amd64-base-python:3.13-alpine3.21)",
    )
    args = parser.parse_args()
    tools = Tools.default()
    base = args.base or standin_base(tools)
    build = build_image(tools, base)
    size = tools.image_size(build.image) / 1e6
    how = "unchanged inputs, reused" if build.cached else f"built in {build.seconds:.0f} s"
    print(f"{build.image}: {how} from {base}, {size:.0f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
