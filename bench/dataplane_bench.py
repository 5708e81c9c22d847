# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""iperf3 TCP throughput vm1 -> vm2 over a MACsec link vs the same wire without MACsec, GCM-AES-128 and -256.

A benchmark, not a test: it prints figures. Two VMs share two wires (eth1 and eth2 on both). First the plain
figure: IPv4 addresses straight on the parents, iperf3 over each wire; the addresses are then flushed again. Then
site.yml makes one kernel-provider link per wire (gcm-aes-128 on eth1, gcm-aes-256 on eth2), with the MTU the
collection leaves on the macsec interface (no `mtu` in the topology), and iperf3 runs again over the links'
addresses. The script checks what it measures: site.yml succeeds, a ping of the macsec interface's full MTU with
"don't fragment" crosses each link, the SecY encrypts with the cipher asked for, and vm1's encrypted octets and
vm2's decrypted octets grew by at least what iperf3 moved; otherwise it stops with the output.

The VMs run under QEMU TCG: AES-GCM runs as emulated instructions, so the absolute figures and the ratio are
those of the lab, not of hardware.

Usage: python bench/dataplane_bench.py [--lab NAME] [--keep]
It boots the lab NAME (default "bench2") with the wires it needs, and stops it at the end unless --keep. Needs
tools/setup.sh to have made .venv/<ansible-core>.
"""

from __future__ import annotations

import collections
import json
import os
import statistics
import tempfile

from _lab import SiteRunner, fresh_lab, lab

# Each VM gets eth1, eth2 in the order of the wires it is on: eth1 is w128, eth2 is w256 on both.
WIRES = 'w128=vm1,vm2;w256=vm1,vm2'
RUNS = 3
SECONDS = 5
# One wire per cipher. The /24s are the plain addresses (on the parent) and the link's (on the macsec interface):
# vm1 is .1, vm2 is .2. None may be in 10.0.2.0/24, QEMU's user network on eth0.
Link = collections.namedtuple('Link', 'cipher parent plain_net name macsec_net')
LINKS = (
    Link('gcm-aes-128', 'eth1', '10.198.1', 'bench-128', '10.198.11'),
    Link('gcm-aes-256', 'eth2', '10.198.2', 'bench-256', '10.198.12'),
)
# Lab-only master secret (public): the bench measures speed, not secrecy.
TOPOLOGY_HEAD = '''---
macsec_master_secret: 62656e63682d6f6e6c792d6e6f742d612d7365637265742d64617461706c616e
macsec_links:
'''
TOPOLOGY_LINK = '''  - name: %(name)s
    provider: kernel
    cipher: %(cipher)s
    ends:
      - {host: vm1, interface: %(parent)s, address: %(macsec_net)s.1/24}
      - {host: vm2, interface: %(parent)s, address: %(macsec_net)s.2/24}
'''
TOPOLOGY = TOPOLOGY_HEAD + ''.join(TOPOLOGY_LINK % link._asdict() for link in LINKS)


def ssh(lab_name, host, command):
    """The stdout of COMMAND on HOST. Stops the bench with the output when it fails."""
    done = lab('ssh', '--name', lab_name, host, command, check=False)
    if done.returncode != 0:
        tail = (host, command, done.returncode, done.stdout[-3000:], done.stderr[-2000:])
        raise SystemExit('%s: `%s` failed (exit %d):\n%s%s' % tail)
    return done.stdout


def iperf(lab_name, address):
    """Bits per second received in each of RUNS iperf3 runs from vm1 to ADDRESS (vm2's), and the bytes sent in all."""
    rates, sent = [], 0
    for dummy in range(RUNS):
        result = json.loads(ssh(lab_name, 'vm1', 'iperf3 -c %s -t %d -J' % (address, SECONDS)))
        rates.append(result['end']['sum_received']['bits_per_second'])
        sent += result['end']['sum_sent']['bytes']
    return rates, sent


def measure_plain(lab_name):
    """{cipher: bits/s of each run} on the bare wires, before any MACsec; leaves the parents without addresses."""
    for number, host in enumerate(('vm1', 'vm2'), start=1):
        ssh(lab_name, host, ' && '.join('ip addr add %s.%d/24 dev %s && ip link set %s up'
                                        % (link.plain_net, number, link.parent, link.parent) for link in LINKS))
    # -D daemonizes; without the redirections ssh would wait for the daemon's inherited stdout to close.
    ssh(lab_name, 'vm2', 'iperf3 -s -D >/dev/null 2>&1')
    rates = {}
    for link in LINKS:
        # A first ping, so that neither carrier nor ARP is part of the first iperf3 run.
        ssh(lab_name, 'vm1', 'ping -c 3 -i 0.3 -W 2 %s.2' % link.plain_net)
        rates[link.cipher] = iperf(lab_name, '%s.2' % link.plain_net)[0]
    # site.yml takes the parents as the lab gives them: no addresses (the iperf3 server stays for the MACsec runs).
    for host in ('vm1', 'vm2'):
        ssh(lab_name, host, ' && '.join('ip addr flush dev %s' % link.parent for link in LINKS))
    return rates


def macsec_interface(lab_name, host, parent):
    """(name, MTU) of the one macsec interface on PARENT, and the parent's MTU."""
    found = [item for item in json.loads(ssh(lab_name, host, 'ip -j link show type macsec'))
             if item.get('link') == parent]
    if len(found) != 1:
        raise SystemExit('%s: expected one macsec interface on %s, found %s' % (host, parent, found))
    parent_mtu = json.loads(ssh(lab_name, host, 'ip -j link show %s' % parent))[0]['mtu']
    return found[0]['ifname'], found[0]['mtu'], parent_mtu


def secy_octets(lab_name, host, ifname, cipher):
    """Octets the SecY encrypted (TX) and decrypted (all RX SCs). Stops the bench when it does not encrypt."""
    secy = json.loads(ssh(lab_name, host, 'ip -j -s macsec show %s' % ifname))[0]
    if secy.get('encrypt') is not True or secy.get('cipher_suite', '').lower() != cipher:
        raise SystemExit('%s: %s does not encrypt with %s: %s' % (host, ifname, cipher, secy))
    return secy['OutOctetsEncrypted'], sum(sc['InOctetsDecrypted'] for sc in secy['rx_sc'])


def measure_macsec(lab_name, link):
    """bits/s of each run over LINK's macsec interfaces, and what the figures rest on (names, MTUs)."""
    ifname, mtu, parent_mtu = macsec_interface(lab_name, 'vm1', link.parent)
    peer = macsec_interface(lab_name, 'vm2', link.parent)
    if peer[1:] != (mtu, parent_mtu):
        raise SystemExit('vm1 and vm2 differ in MTU on %s: %s vs %s' % (link.name, (ifname, mtu, parent_mtu), peer))
    # The largest IPv4 packet the macsec interface takes (MTU less 20 bytes IP, 8 ICMP), with "don't fragment":
    # it crosses only if the parent carries it with the SecTAG and ICV added, unfragmented.
    ssh(lab_name, 'vm1', 'ping -M do -c 2 -W 3 -s %d %s.2' % (mtu - 28, link.macsec_net))
    sent_before = secy_octets(lab_name, 'vm1', ifname, link.cipher)[0]
    received_before = secy_octets(lab_name, 'vm2', peer[0], link.cipher)[1]
    rates, sent = iperf(lab_name, '%s.2' % link.macsec_net)
    # The counters include the headers, so they grow by more than the TCP payload iperf3 counts: less would mean
    # that the traffic went another way than through the SecYs.
    encrypted = secy_octets(lab_name, 'vm1', ifname, link.cipher)[0] - sent_before
    decrypted = secy_octets(lab_name, 'vm2', peer[0], link.cipher)[1] - received_before
    if encrypted < sent or decrypted < sent:
        raise SystemExit('%s: iperf3 sent %d bytes, but vm1 encrypted %d octets and vm2 decrypted %d'
                         % (link.name, sent, encrypted, decrypted))
    return rates, {'ifname': ifname, 'mtu': mtu, 'parent_mtu': parent_mtu, 'encrypted': encrypted}


def gcm_driver(lab_name):
    """The kernel's gcm(aes) implementation on vm1 (the highest priority in /proc/crypto), e.g. generic-gcm-aesni."""
    best = (-1, 'unknown')
    for block in ssh(lab_name, 'vm1', 'cat /proc/crypto').split('\n\n'):
        fields = dict(line.split(':', 1) for line in block.splitlines() if ':' in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if fields.get('name') == 'gcm(aes)':
            best = max(best, (int(fields.get('priority', 0)), fields.get('driver', 'unknown')))
    return best[1]


def main():
    with fresh_lab(__doc__, 'bench2', 2, WIRES) as lab_name:
        plain = measure_plain(lab_name)
        with tempfile.TemporaryDirectory(prefix='l2sec-bench-') as workdir:
            inventory = os.path.join(workdir, 'inventory.yml')
            lab('inventory', '--name', lab_name, '--output', inventory)
            seconds = SiteRunner(workdir, inventory, TOPOLOGY).site()[0]
        print('site.yml made %s in %.0f s' % (', '.join(link.name for link in LINKS), seconds), flush=True)
        macsec = {link.cipher: measure_macsec(lab_name, link) for link in LINKS}
        driver = gcm_driver(lab_name)
    report(plain, macsec, driver)


def report(plain, macsec, driver):
    print('iperf3 TCP vm1 -> vm2, %d runs of %d s per figure, median Mbit/s of end.sum_received:' % (RUNS, SECONDS))
    heads = ('cipher', 'parent', 'parent MTU', 'macsec if', 'macsec MTU', 'plain Mbit/s', 'MACsec Mbit/s',
             'MACsec/plain')
    print('  %-12s %-6s %-10s %-12s %-10s %12s %13s %13s' % heads)
    for link in LINKS:
        rates, info = macsec[link.cipher]
        plain_median, macsec_median = statistics.median(plain[link.cipher]), statistics.median(rates)
        print('  %-12s %-6s %10d %-12s %10d %12.1f %13.1f %13.2f'
              % (link.cipher, link.parent, info['parent_mtu'], info['ifname'], info['mtu'], plain_median / 1e6,
                 macsec_median / 1e6, macsec_median / plain_median))
    for link in LINKS:
        runs = [', '.join('%.1f' % (rate / 1e6) for rate in rates)
                for rates in (plain[link.cipher], macsec[link.cipher][0])]
        print('  %s runs: plain (%s), MACsec (%s)' % (link.cipher, runs[0], runs[1]))
    print('checked: encrypt on with the cipher above at both ends; vm1 encrypted and vm2 decrypted at least the '
          'bytes iperf3 sent; a ping of each macsec MTU with "don\'t fragment" crossed its link')
    print('figures from QEMU TCG emulation (1 vCPU per VM, -cpu max, guest gcm(aes) driver %s): AES is emulated, '
          'so the absolute numbers and the ratio are those of the lab, not of hardware' % driver)


if __name__ == '__main__':
    main()
