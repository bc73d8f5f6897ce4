# shellcheck shell=bash
# Sourced by scripts/*: finds a Python >= 3.13.2, makes sure Mosquitto is installed and
# builds (once) the cached virtualenv. Sets ROOT, PY and VENV.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${HYDRO_FLEET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hydro-fleet}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 13, 2))' 2>/dev/null; }

# Home Assistant 2026.2 needs Python >= 3.13.2; Debian 12 ships 3.11.
# Order: PATH, $HYDRO_FLEET_PYTHON, the project's shared toolchain, then a source build.
find_python() {
  local p name
  for name in python3.13 python3.14; do
    if p=$(command -v "$name" 2>/dev/null) && python_ok "$p"; then echo "$p"; return; fi
  done
  if [[ -n ${HYDRO_FLEET_PYTHON:-} ]] && python_ok "$HYDRO_FLEET_PYTHON"; then echo "$HYDRO_FLEET_PYTHON"; return; fi
  if [[ -x $ROOT/../shared/toolchain/python3.13 ]] && p=$("$ROOT/../shared/toolchain/python3.13") && python_ok "$p"; then
    echo "$p"; return
  fi
  local prefix=$CACHE/python3.13
  if python_ok "$prefix/bin/python3.13"; then echo "$prefix/bin/python3.13"; return; fi
  build_python "$prefix"
  echo "$prefix/bin/python3.13"
}

# Last resort: build CPython 3.13 from Debian trixie's source package (about 6 minutes).
build_python() {
  local prefix=$1 work mirror
  if [[ $(id -u) != 0 ]]; then
    say "No Python >= 3.13.2 found. Install one (or set HYDRO_FLEET_PYTHON), or run this as root to build it."
    exit 1
  fi
  say "Building CPython 3.13 from source into $prefix (one time, about 6 minutes)"
  apt-get update -qq && apt-get install -y -qq build-essential libssl-dev zlib1g-dev libbz2-dev \
    libreadline-dev libsqlite3-dev libffi-dev liblzma-dev uuid-dev libgdbm-dev xz-utils >&2
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial"
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [[ -n $mirror ]] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "deb-src $mirror trixie main" >"$work/sources.list"
  local apt=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=/dev/null -o Dir::State::Lists="$work/lists")
  apt-get "${apt[@]}" update >&2
  (cd "$work" && apt-get "${apt[@]}" source --download-only --tar-only python3.13 >&2)
  tar -C "$work" -xJf "$work"/python3.13_*.orig.tar.xz
  (cd "$work"/Python-3.13.*/ && ./configure --prefix="$prefix" --with-ensurepip=install >&2 \
    && make -j"$(nproc)" >&2 && make altinstall >&2)
  rm -rf "$work"
}

find_mosquitto() {
  local p
  for p in "$(command -v mosquitto 2>/dev/null || true)" /usr/sbin/mosquitto; do
    [[ -n $p && -x $p ]] && { echo "$p"; return; }
  done
  return 1
}

ensure_mosquitto() {
  if find_mosquitto >/dev/null; then return; fi
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "Installing Mosquitto (apt-get)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >&2
    # The Debian package starts a system broker on :1883; we run our own on free ports.
    systemctl disable --now mosquitto >/dev/null 2>&1 || true
  else
    say "Mosquitto is missing. Install it with: sudo apt-get install -y mosquitto mosquitto-clients"
    exit 1
  fi
}

# The add-on image test (tests/addon/) builds and runs the add-on's image without a Docker
# daemon: buildah builds it, podman runs it (runc, slirp4netns for the port mapping), and
# debootstrap makes the stand-in base image once (cached under $CACHE/containers).
ensure_container_tools() {
  local tool missing=()
  for tool in podman buildah runc slirp4netns debootstrap; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [[ ${#missing[@]} == 0 ]] && return
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "Installing ${missing[*]} (apt-get; the add-on image test needs them)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc slirp4netns debootstrap >&2
  else
    say "Missing ${missing[*]} for the add-on image test. Install them with:"
    say "  sudo apt-get install -y podman buildah runc slirp4netns debootstrap"
    exit 1
  fi
}

# The scale tests (issue #19) run a private PostgreSQL cluster and a 3-node NATS cluster on
# loopback ports; both come from Debian. The packages' own services are not used. The
# protocol conformance tests compile the ESPHome node's lambdas for this machine
# (tests/conformance/esphome_host.py): g++ and nlohmann-json's header.
find_pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return; }
  done
  return 1
}

ensure_debian_tools() {
  local missing=()
  find_pg_bindir >/dev/null || missing+=(postgresql)
  command -v nats-server >/dev/null || [[ -x /usr/sbin/nats-server ]] || missing+=(nats-server)
  command -v g++ >/dev/null || missing+=(g++)
  [[ -f /usr/include/nlohmann/json.hpp ]] || missing+=(nlohmann-json3-dev)
  ((${#missing[@]})) || return 0
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "Installing ${missing[*]} (apt-get)"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    # Debian starts a system PostgreSQL cluster on :5432; the tests start their own.
    systemctl disable --now postgresql nats-server >/dev/null 2>&1 || true
  else
    say "Missing ${missing[*]}. Install with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
}

# Prints the path of a virtualenv built from a requirements file, cached outside the clone
# under a key from the Python version and the file, so reruns start in seconds. A lock keeps
# two runs at once (a demo and the tests) from building the same venv twice.
cached_venv() {
  local name=$1 requirements=$2 key venv lock
  key=$( { "$PY" -c 'import sys; print(sys.version)'; cat "$requirements"; } | sha256sum | cut -c1-16)
  venv=$CACHE/$name-$key
  mkdir -p "$CACHE"
  exec {lock}>"$venv.lock"
  flock "$lock"
  if [[ ! -f $venv/.complete ]]; then
    say "Creating the virtualenv $venv (first run only; a few minutes)"
    rm -rf "$venv"
    "$PY" -m venv "$venv"
    # pip's output goes to a log (a local index may print a warning per package); shown on failure.
    if ! { "$venv/bin/python" -m pip install --upgrade pip \
           && "$venv/bin/python" -m pip install -r "$requirements"; } >"$venv.pip.log" 2>&1; then
      tail -n 40 "$venv.pip.log" >&2
      say "pip install failed; the whole log is $venv.pip.log"
      exit 1
    fi
    touch "$venv/.complete"
  fi
  flock -u "$lock"
  echo "$venv"
}

ensure_venv() {
  VENV=$(cached_venv venv "$ROOT/requirements/dev.txt")
  export PATH="$VENV/bin:$PATH"
}

# ESPHome pins versions that conflict with Home Assistant's, so it has a venv of its own;
# the tests run `esphome config` from it. Exports ESPHOME_VENV.
ensure_esphome_venv() {
  ESPHOME_VENV=$(cached_venv esphome "$ROOT/requirements/esphome.txt")
  export ESPHOME_VENV
}

setup_all() {
  PY=$(find_python)
  ensure_mosquitto
  ensure_debian_tools
  ensure_venv
  export MOSQUITTO_BIN=${MOSQUITTO_BIN:-$(find_mosquitto)}
  PG_BINDIR=${PG_BINDIR:-$(find_pg_bindir)}
  export PG_BINDIR
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
}
