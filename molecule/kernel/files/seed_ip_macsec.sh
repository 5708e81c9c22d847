#!/bin/sh
# One end of a static-key MACsec link exactly as the seed's guide writes it: plain `ip` commands.
# Usage: seed_ip_macsec.sh DEV PARENT CIPHER PEER_MAC ADDRESS TX_KEY_ID TX_KEY RX_KEY_ID RX_KEY SALT|-
# (XPN ciphers: this end's SSCI is 2 and the peer's 1, as the interop topology sets them.)
set -eu
dev=$1 parent=$2 cipher=$3 peer=$4 address=$5 tx_id=$6 tx_key=$7 rx_id=$8 rx_key=$9
shift 9
salt=$1
case $cipher in
    *xpn*) tx_opts="xpn 1 ssci 2 salt $salt" rx_opts="xpn 1 ssci 1 salt $salt" ;;
    *) tx_opts="pn 1" rx_opts="pn 1" ;;
esac
ip link set "$parent" up
ip link add link "$parent" name "$dev" type macsec port 1 encrypt on cipher "$cipher"
# shellcheck disable=SC2086 # the options are words on purpose
ip macsec add "$dev" tx sa 0 $tx_opts on key "$tx_id" "$tx_key"
ip macsec add "$dev" rx port 1 address "$peer"
# shellcheck disable=SC2086
ip macsec add "$dev" rx port 1 address "$peer" sa 0 $rx_opts on key "$rx_id" "$rx_key"
ip link set "$dev" up
ip address add "$address" dev "$dev"
