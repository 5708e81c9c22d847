#!/usr/bin/env bash
# Sets up and runs every test of the collection, stage by stage, printing each stage's time.
#   tools/test.sh            all stages
#   tools/test.sh units lint  only the named stages (setup always runs)
# Stages: units (pytest, every supported ansible-core), sanity (ansible-test, main ansible-core),
#         lint (ansible-lint, production profile), build (galaxy build + install), lab (molecule on the VM lab).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ALL_STAGES=(units sanity lint build lab)
MAIN_CORE=2.21.5
OTHER_CORES=(2.19.14)

declare -A STAGE_SECONDS=()
log() { printf '\n[test] %s\n' "$*" >&2; }

# A copy of the collection where ansible-test and the import machinery expect it:
# <tmp>/ansible_collections/l2sec/macsec/ (ansible-test resolves symlinks, so it must be a real copy).
WORK=$(mktemp -d /tmp/l2sec-test.XXXXXX)
CURRENT_STAGE=
finish() {
  local status=$?
  rm -rf "$WORK"
  if [ "$status" != 0 ] && [ -n "$CURRENT_STAGE" ]; then
    log "stage $CURRENT_STAGE FAILED"
    echo "stages: $((${#STAGE_SECONDS[@]} - 1)) passed, 1 failed"
  fi
}
trap finish EXIT
COLLECTION=$WORK/ansible_collections/l2sec/macsec
copy_collection() {
  rm -rf "$COLLECTION" && mkdir -p "$COLLECTION"
  git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$COLLECTION"
}

# Every test runs with a throw-away Ansible home and collections path, so nothing of the user's leaks in.
isolate_ansible() {
  export ANSIBLE_HOME=$WORK/ansible-home
  export ANSIBLE_COLLECTIONS_PATH=$WORK
  export ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp
}

stage_units() {
  local core
  for core in "$MAIN_CORE" "${OTHER_CORES[@]}"; do
    log "unit tests on ansible-core $core"
    (cd "$COLLECTION" && PYTHONPATH=$WORK "$ROOT/.venv/$core/bin/python" -m pytest -q -p no:cacheprovider tests/unit)
  done
}

stage_sanity() {
  local venv=$ROOT/.venv/$MAIN_CORE pip_version cache
  # ansible-test bootstraps pip into its venvs with a get-pip.py it downloads from a host that is not
  # reachable offline; give it our stand-in at the path where it caches that download.
  pip_version=$(grep -oP "pip='\K[0-9.]+" "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py)
  cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
  mkdir -p "$(dirname "$cache")" && cp tools/get_pip_offline.py "$cache"
  log "ansible-test sanity (ansible-core $MAIN_CORE, pip bootstrap $pip_version offline)"
  (cd "$COLLECTION" && PATH=$venv/bin:$PATH ansible-test sanity --venv --python "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --color no)
}

stage_lint() {
  log "ansible-lint (production profile)"
  (cd "$COLLECTION" && PATH=$ROOT/.venv/$MAIN_CORE/bin:$PATH ansible-lint --offline)
}

stage_build() {
  local bin=$ROOT/.venv/$MAIN_CORE/bin installed=$WORK/installed
  log "ansible-galaxy collection build + install"
  (cd "$COLLECTION" && "$bin/ansible-galaxy" collection build --output-path "$WORK/dist")
  # Install and read back from a path that holds only the tarball's copy, not the test copy of the tree.
  ANSIBLE_COLLECTIONS_PATH=$installed "$bin/ansible-galaxy" collection install "$WORK"/dist/l2sec-macsec-*.tar.gz -p "$installed"
  test -f "$installed/ansible_collections/l2sec/macsec/MANIFEST.json"
  ANSIBLE_COLLECTIONS_PATH=$installed "$bin/ansible-doc" -t module l2sec.macsec.macsec_preflight \
    | grep 'MACsec' >/dev/null || { echo "ansible-doc cannot read the installed collection" >&2; return 1; }
}

# The lab has two lanes (docs/development.md). CI runs the CI lane: the scenarios below, each with its core checks.
# L2SEC_DEEP=1 runs the deep lane too: every scenario, and the plays marked "(deep lane)" in the verify playbooks
# (they are skipped, "no hosts matched", without it). L2SEC_SCENARIOS="default site" runs only those scenarios (the
# default one always boots the lab).
CI_SCENARIOS="default ipsec kernel pki site"
stage_lab() {
  local all scenarios=${L2SEC_SCENARIOS:-$CI_SCENARIOS} selection=() scenario left_out=()
  all=$(cd molecule && echo */ | tr -d /)
  if [ -z "${L2SEC_SCENARIOS:-}" ] && [ "${L2SEC_DEEP:-}" = 1 ]; then
    scenarios=$all
  fi
  for scenario in $scenarios; do selection+=(-s "$scenario"); done
  for scenario in $all; do [[ " $scenarios " == *" $scenario "* ]] || left_out+=("$scenario"); done
  log "molecule on the VM lab: $scenarios (they share one boot); deep lane: ${L2SEC_DEEP:-off}"
  if [ "${L2SEC_DEEP:-}" != 1 ]; then
    log "not in this run (the deep lane, L2SEC_DEEP=1 tools/test.sh lab): the scenarios ${left_out[*]:-(none)}, and the plays marked (deep lane)"
  fi
  # Each line gets the time of day, so a slow scenario or step shows in the CI log.
  (cd "$COLLECTION" && PATH=$ROOT/.venv/$MAIN_CORE/bin:$PATH molecule test "${selection[@]}" --shared-state 2>&1) \
    | while IFS= read -r line; do printf '%(%T)T %s\n' -1 "$line"; done
}

run_stage() {
  local name=$1 started=$SECONDS
  CURRENT_STAGE=$name
  "stage_$name"
  CURRENT_STAGE=
  STAGE_SECONDS[$name]=$((SECONDS - started))
  log "stage $name passed in ${STAGE_SECONDS[$name]} s"
}

main() {
  local started=$SECONDS stage stages=("$@")
  [ ${#stages[@]} -gt 0 ] || stages=("${ALL_STAGES[@]}")
  tools/setup.sh "$MAIN_CORE" "${OTHER_CORES[@]}"
  STAGE_SECONDS[setup]=$((SECONDS - started))
  copy_collection
  isolate_ansible
  for stage in "${stages[@]}"; do
    run_stage "$stage"
  done
  log "stage times (s):"
  for stage in setup "${stages[@]}"; do printf '  %-8s %5s\n' "$stage" "${STAGE_SECONDS[$stage]}" >&2; done
  log "all ${#stages[@]} stages passed in $((SECONDS - started)) s"
  echo "stages: ${#stages[@]} passed, 0 failed"
}

main "$@"
