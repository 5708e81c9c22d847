#!/bin/sh
# Sets up a static-key MACsec link with plain iproute2 commands: the lab's own proof that its kernels do
# MACsec, independent of the collection's modules. Idempotent: an existing interface is left alone.
# Environment: LINK PARENT PEER_MAC TX_KEY RX_KEY ADDRESS (keys are 32 hex digits, test-only).
set -eu
if ip link show "$LINK" >/dev/null 2>&1; then
  echo unchanged
  exit 0
fi
modprobe macsec
ip link set "$PARENT" up
# `ip link add ... type macsec` defaults to encrypt off (integrity only): ask for encryption.
ip link add link "$PARENT" "$LINK" type macsec port 1 encrypt on
ip macsec add "$LINK" tx sa 0 pn 1 on key 01 "$TX_KEY"
ip macsec add "$LINK" rx port 1 address "$PEER_MAC"
ip macsec add "$LINK" rx port 1 address "$PEER_MAC" sa 0 pn 1 on key 02 "$RX_KEY"
ip addr add "$ADDRESS" dev "$LINK"
ip link set "$LINK" up
echo changed
