#!/usr/bin/env bash
# Installs everything the demo and the tests need on a Debian 12 machine, idempotently:
#   - the system packages of bindep.txt's [lab] and [test] profiles (apt, when run as root),
#   - one virtualenv per supported ansible-core under .venv/<version>/ with the pinned test tools.
# Usage: tools/setup.sh [ANSIBLE_CORE_VERSION...]   (default: every version in SUPPORTED_CORES)
set -euo pipefail
cd "$(dirname "$0")/.."

# The controller versions this collection supports and tests; the first is the main one.
SUPPORTED_CORES=(2.21.5 2.19.14)

log() { printf '[setup] %s\n' "$*" >&2; }

install_system_packages() {
  local wanted missing=()
  wanted=$(awk '/^[a-z0-9]/ && /platform:dpkg/ && (/ lab[] ]/ || / test[] ]/) {print $1}' bindep.txt)
  for pkg in $wanted; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep 'install ok installed' >/dev/null || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && { log "system packages present"; return; }
  if [ "$(id -u)" != 0 ]; then
    log "missing system packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ansible-core 2.21 needs Python 3.12+; pyenv shims hide versions that are not global, so look further.
find_python() {
  local candidate
  for candidate in python3.12 python3.13 /root/.pyenv/versions/3.12*/bin/python3.12 \
                   /root/.pyenv/versions/3.13*/bin/python3.13 /usr/bin/python3.12 /usr/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; assert sys.version_info >= (3, 12)' 2>/dev/null; then
      command -v "$candidate"
      return
    fi
  done
  log "no Python 3.12 or newer found: install python3.12 (ansible-core 2.21 needs it)"
  exit 1
}

make_venv() {
  local core=$1 python=$2 venv=.venv/$1 stamp
  stamp="$core $(sha256sum tests/requirements.txt | cut -c1-16)"
  if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ]; then
    log "venv $venv up to date"
    return
  fi
  log "creating $venv (ansible-core $core)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  # This machine's pip.conf may name local wheel folders that do not exist: hide those warnings only.
  "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$core" -r tests/requirements.txt \
    2> >(grep -v "^WARNING: Location 'file:" >&2)
  echo "$stamp" > "$venv/.stamp"
}

main() {
  local started=$SECONDS python core
  install_system_packages
  python=$(find_python)
  for core in "${@:-${SUPPORTED_CORES[@]}}"; do
    make_venv "$core" "$python"
  done
  log "done in $((SECONDS - started)) s"
}

main "$@"
