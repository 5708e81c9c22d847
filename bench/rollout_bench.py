# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""site.yml on a 3-VM segment plus a point-to-point link, from one inventory: first run vs no-change run.

A benchmark, not a test: it prints figures. Three VMs share one wire (a vde_switch: the segment, eth1 on each),
and vm1 and vm2 have a second wire of their own (the point-to-point link, eth2). Both links use the kernel
provider, so the first run goes through the whole lockout-safe path (rollback timer, probe from every end,
commit). Each run is a whole `ansible-playbook l2sec.macsec.site`, as an operator would time it. The script
checks what it measures: the first run must change every host, the second none (`changed=0` in every recap
line), and a ping must cross the segment and the link afterwards; otherwise it stops with the output.

Usage: python bench/rollout_bench.py [--lab NAME] [--keep]
It boots the lab NAME (default "bench3") with the wires it needs, and stops it at the end unless --keep. Needs
tools/setup.sh to have made .venv/<ansible-core>.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = '2.21.5'
HOSTS = ('vm1', 'vm2', 'vm3')
WIRES = 'seg=vm1,vm2,vm3;p2p=vm1,vm2'
# Lab-only master secret (public): the bench measures speed, not secrecy.
TOPOLOGY = '''---
macsec_master_secret: 62656e63682d6f6e6c792d6e6f742d612d7365637265742d726f6c6c6f75742d
macsec_links:
  - name: bench-seg
    provider: kernel
    ends:
      - {host: vm1, interface: eth1, address: 10.0.11.1/24}
      - {host: vm2, interface: eth1, address: 10.0.11.2/24}
      - {host: vm3, interface: eth1, address: 10.0.11.3/24}
  - name: bench-p2p
    provider: kernel
    ends:
      - {host: vm1, interface: eth2, address: 10.0.12.1/24}
      - {host: vm2, interface: eth2, address: 10.0.12.2/24}
'''
# Who pings whom afterwards: every member of the segment reaches the others, and the link's ends each other.
PINGS = (('vm3', '10.0.11.1'), ('vm1', '10.0.11.2'), ('vm2', '10.0.11.3'), ('vm1', '10.0.12.2'))


def lab(*args, check=True):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'lab', 'lab.py')] + list(args), check=check,
                          capture_output=True, text=True)


def recaps(output):
    """{host: {ok, changed, unreachable, failed, ...}} from the PLAY RECAP of an ansible-playbook run."""
    found = {}
    for line in output.splitlines():
        match = re.match(r'^(vm\d+)\s+:\s+(.*)$', line)
        if match:
            found[match.group(1)] = {key: int(value) for key, value in re.findall(r'(\w+)=(\d+)', match.group(2))}
    return found


class Runner:
    def __init__(self, workdir, inventory):
        collections = os.path.join(workdir, 'collections', 'ansible_collections', 'l2sec')
        os.makedirs(collections)
        os.symlink(ROOT, os.path.join(collections, 'macsec'))
        self.topology = os.path.join(workdir, 'topology.yml')
        with open(self.topology, 'w', encoding='utf-8') as handle:
            handle.write(TOPOLOGY)
        self.inventory = inventory
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(workdir, 'collections'),
                        ANSIBLE_CONFIG=os.path.join(ROOT, 'examples', 'lab', 'ansible.cfg'),
                        ANSIBLE_HOME=os.path.join(workdir, 'ansible-home'), ANSIBLE_NOCOLOR='1')

    def site(self):
        """Seconds of one whole site.yml run, and its recap per host. Stops the bench when the run failed."""
        binary = os.path.join(ROOT, '.venv', CORE, 'bin', 'ansible-playbook')
        started = time.monotonic()
        done = subprocess.run([binary, '-i', self.inventory, '-e', '@' + self.topology, 'l2sec.macsec.site'],
                              env=self.env, check=False, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            tail = (elapsed, done.stdout[-4000:], done.stderr[-2000:])
            raise SystemExit('site.yml failed after %.0f s:\n%s\n%s' % tail)
        return elapsed, recaps(done.stdout), done.stdout


def check_runs(first, second):
    """The first run changed every host, the second none; anything else makes the figures meaningless."""
    (first_recap, first_output), (second_recap, second_output) = first, second
    if sorted(first_recap) != list(HOSTS) or any(first_recap[host]['changed'] == 0 for host in HOSTS):
        raise SystemExit('the first run did not change every host: %s\n%s' % (first_recap, first_output[-4000:]))
    if sorted(second_recap) != list(HOSTS) or any(second_recap[host]['changed'] != 0 for host in HOSTS):
        raise SystemExit('the no-change run changed something: %s\n%s' % (second_recap, second_output[-6000:]))


def check_traffic(lab_name):
    for host, address in PINGS:
        done = lab('ssh', '--name', lab_name, host, 'ping -c 3 -i 0.3 -W 2 %s' % address, check=False)
        if done.returncode != 0:
            raise SystemExit('%s cannot reach %s over MACsec:\n%s%s' % (host, address, done.stdout, done.stderr))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lab', default='bench3')
    parser.add_argument('--keep', action='store_true')
    args = parser.parse_args()
    lab('build')
    lab('down', '--name', args.lab, check=False)
    print('booting lab %s (3 VMs; wires %s) ...' % (args.lab, WIRES), flush=True)
    lab('up', '--name', args.lab, '--vms', '3', '--wires', WIRES, '--timeout', '400')
    try:
        with tempfile.TemporaryDirectory(prefix='l2sec-bench-') as workdir:
            inventory = os.path.join(workdir, 'inventory.yml')
            lab('inventory', '--name', args.lab, '--output', inventory)
            runner = Runner(workdir, inventory)
            first_seconds, first_recap, first_output = runner.site()
            print('first run      %6.1f s   %s' % (first_seconds, summary(first_recap)), flush=True)
            second_seconds, second_recap, second_output = runner.site()
            print('no-change run  %6.1f s   %s' % (second_seconds, summary(second_recap)), flush=True)
            check_runs((first_recap, first_output), (second_recap, second_output))
            check_traffic(args.lab)
    finally:
        if not args.keep:
            lab('down', '--name', args.lab, check=False)
    print('a 3-member segment (vm1, vm2, vm3) and a point-to-point link (vm1-vm2), kernel provider, under TCG')
    print('ratio first / no-change: %.2f' % (first_seconds / second_seconds))
    print('pings across the segment and the link after the runs: %d of %d paths' % (len(PINGS), len(PINGS)))


def summary(recap):
    return ', '.join('%s changed=%d' % (host, recap[host]['changed']) for host in sorted(recap))


if __name__ == '__main__':
    main()
