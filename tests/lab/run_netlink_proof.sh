#!/usr/bin/env bash
# Runs the netlink proof (tests/lab/netlink_proof.py) in a running 2-VM lab, on the host:
#   python3 lab/lab.py up --name nl --vms 2 --timeout 300
#   tests/lab/run_netlink_proof.sh [LAB] [WHEEL]        LAB: lab name (default nl)
#   python3 lab/lab.py down --name nl
# WHEEL: a pyroute2 wheel for the second run (default: pyroute2 0.9.7, fetched with the venv's pip if missing).
# On vm1: the checks with Debian's python3-pyroute2 and with the wheel in a venv (install_pyroute2_venv.sh);
# then the interop test with each: vm1's SecYs by our netlink code, vm2's by plain iproute2, ping both ways.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
LAB=${1:-nl}
WHEEL=${2:-/tmp/pr097/pyroute2-0.9.7-py3-none-any.whl}
VENV=/opt/pr097
PYTHONS=(/usr/bin/python3 "$VENV/bin/python")
REMOTE=/root/nlp

lab_ssh() { python3 "$ROOT/lab/lab.py" ssh --name "$LAB" "$@"; }
log() { printf '\n[proof] %s\n' "$*"; }

if [ ! -f "$WHEEL" ]; then
    log "fetching $(basename "$WHEEL")"
    "$ROOT/.venv/2.21.5/bin/pip" download pyroute2==0.9.7 --no-deps -d "$(dirname "$WHEEL")"
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/ansible_collections/l2sec/macsec/plugins/module_utils"
cp plugins/module_utils/_netlink_macsec.py "$STAGE/ansible_collections/l2sec/macsec/plugins/module_utils/"
cp tests/lab/netlink_proof.py tests/lab/install_pyroute2_venv.sh "$WHEEL" "$STAGE/"
for vm in vm1 vm2; do
    tar -C "$STAGE" -cf - . | lab_ssh "$vm" "rm -rf $REMOTE && mkdir -p $REMOTE && tar -x -C $REMOTE -f -"
done

declare -A RESULT=()
declare -A SECONDS_TAKEN=()
timed() {  # timed KEY CMD...: run, remember rc and seconds
    local key=$1 start rc=0
    shift
    start=$EPOCHREALTIME
    "$@" || rc=$?
    RESULT[$key]=$rc
    SECONDS_TAKEN[$key]=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
}

log "vm1: venv with $(basename "$WHEEL") (no pip, no python3-venv)"
timed venv lab_ssh vm1 "sh $REMOTE/install_pyroute2_venv.sh $REMOTE/$(basename "$WHEEL") $VENV"

for python in "${PYTHONS[@]}"; do
    log "vm1: checks with $python"
    timed "checks $python" lab_ssh vm1 "cd $REMOTE && PYTHONPATH=$REMOTE $python netlink_proof.py checks"
done

mac() { lab_ssh "$1" cat "/sys/class/net/$2/address"; }
VM1_ETH1=$(mac vm1 eth1) VM1_ETH2=$(mac vm1 eth2) VM2_ETH1=$(mac vm2 eth1) VM2_ETH2=$(mac vm2 eth2)
python3 tests/lab/netlink_proof.py peer-script --peer-mac1 "$VM1_ETH1" --peer-mac2 "$VM1_ETH2" > "$STAGE/peer.sh"
lab_ssh vm2 "cat > $REMOTE/peer.sh" < "$STAGE/peer.sh"

for python in "${PYTHONS[@]}"; do
    log "traffic with $python on vm1 (our netlink), iproute2 on vm2"
    lab_ssh vm1 'ip link del macsec1 2>/dev/null; ip link del macsec2 2>/dev/null; true'
    timed "peer up $python" lab_ssh vm2 "sh -x $REMOTE/peer.sh up"
    timed "traffic $python" lab_ssh vm1 "cd $REMOTE && PYTHONPATH=$REMOTE $python netlink_proof.py traffic \
        --peer-mac1 $VM2_ETH1 --peer-mac2 $VM2_ETH2"
    timed "peer ping $python" lab_ssh vm2 "sh $REMOTE/peer.sh ping"
    lab_ssh vm1 'ip macsec show; ip link del macsec1; ip link del macsec2' || true
    lab_ssh vm2 "sh $REMOTE/peer.sh down" || true
done

log "summary (lab $LAB)"
failed=0
for key in venv "${PYTHONS[@]/#/checks }" "${PYTHONS[@]/#/peer up }" "${PYTHONS[@]/#/traffic }" \
           "${PYTHONS[@]/#/peer ping }"; do
    status=ok
    if [ "${RESULT[$key]:-missing}" != 0 ]; then
        status="FAILED (${RESULT[$key]:-not run})"
        failed=1
    fi
    printf '%-40s %-14s %6s s\n' "$key" "$status" "${SECONDS_TAKEN[$key]:-}"
done
exit "$failed"
