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

import os
import tempfile

from _lab import SiteRunner, fresh_lab, lab

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
    with fresh_lab(__doc__, 'bench3', 3, WIRES) as lab_name:
        with tempfile.TemporaryDirectory(prefix='l2sec-bench-') as workdir:
            inventory = os.path.join(workdir, 'inventory.yml')
            lab('inventory', '--name', lab_name, '--output', inventory)
            runner = SiteRunner(workdir, inventory, TOPOLOGY)
            first_seconds, first_recap, first_output = runner.site()
            print('first run      %6.1f s   %s' % (first_seconds, summary(first_recap)), flush=True)
            second_seconds, second_recap, second_output = runner.site()
            print('no-change run  %6.1f s   %s' % (second_seconds, summary(second_recap)), flush=True)
            check_runs((first_recap, first_output), (second_recap, second_output))
            check_traffic(lab_name)
    print('a 3-member segment (vm1, vm2, vm3) and a point-to-point link (vm1-vm2), kernel provider, under TCG')
    print('ratio first / no-change: %.2f' % (first_seconds / second_seconds))
    print('pings across the segment and the link after the runs: %d of %d paths' % (len(PINGS), len(PINGS)))


def summary(recap):
    return ', '.join('%s changed=%d' % (host, recap[host]['changed']) for host in sorted(recap))


if __name__ == '__main__':
    main()
