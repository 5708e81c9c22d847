# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One SecY through the macsec_secy module vs the same SecY through `ip macsec` command tasks, in the VM lab.

A benchmark, not a test: it prints figures. The SecY has 1 TX SA and 3 RX SCs with one SA each (a host on a
4-member segment). Each way is timed applying it to a host that has none, and re-running with nothing to change
(the command tasks cannot tell: they run again, and fail on what exists unless told to ignore it, which is how
such playbooks are written). Every run is a whole `ansible-playbook` against vm1, as an operator would time it.

Usage: python bench/kernel_bench.py [--lab NAME] [--rounds N] [--keep]
It boots the lab NAME (default "bench") if it is not running, and stops it at the end unless --keep or it was
running already. Needs tools/setup.sh to have made .venv/<ansible-core>.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

from _lab import ANSIBLE_PLAYBOOK, ansible_env, lab

PARENT = 'eth1'
IFNAME = 'benchsec0'
# Lab-only keys (public): the bench measures speed, not secrecy.
TX_KEY = '00112233445566778899aabbccddeeff'
PEERS = [('52:54:00:be:0c:%02x' % number, '%032x' % (0xb0 + number)) for number in (1, 2, 3)]
KEY_ID_TX = '01' * 16

MODULE_PLAY = '''
- name: One SecY through the module
  hosts: vm1
  gather_facts: false
  tasks:
    - name: Converge the SecY
      l2sec.macsec.macsec_secy:
        name: %(ifname)s
        parent: %(parent)s
        persist: false
        tx_sas: [{an: 0, key: "%(tx_key)s", key_id: "%(tx_id)s"}]
        rx_scs: %(rx_scs)s
'''

COMMAND_PLAY = '''
- name: One SecY through ip macsec commands
  hosts: vm1
  gather_facts: false
  tasks:
%(tasks)s
'''

COMMAND_TASK = '''    - name: %(name)s
      ansible.builtin.command: %(command)s
      register: result
      failed_when: result.rc != 0 and 'exists' not in result.stderr and 'busy' not in result.stderr
'''


def module_playbook():
    rx_scs = [{'mac': mac, 'sas': [{'an': 0, 'key': key, 'key_id': '%02x' % (index + 2) * 16}]}
              for index, (mac, key) in enumerate(PEERS)]
    return MODULE_PLAY % {'ifname': IFNAME, 'parent': PARENT, 'tx_key': TX_KEY, 'tx_id': KEY_ID_TX,
                          'rx_scs': json.dumps(rx_scs)}


def command_playbook():
    commands = [
        ('add the link', 'ip link add link %s name %s type macsec port 1 encrypt on' % (PARENT, IFNAME)),
        ('add the TX SA', 'ip macsec add %s tx sa 0 pn 1 on key %s %s' % (IFNAME, KEY_ID_TX, TX_KEY)),
    ]
    for index, (mac, key) in enumerate(PEERS):
        commands.append(('add RX SC %d' % index, 'ip macsec add %s rx port 1 address %s' % (IFNAME, mac)))
        commands.append(('add RX SA %d' % index, 'ip macsec add %s rx port 1 address %s sa 0 pn 1 on key %s %s'
                         % (IFNAME, mac, '%02x' % (index + 2) * 16, key)))
    commands.append(('bring it up', 'ip link set %s up' % IFNAME))
    tasks = ''.join(COMMAND_TASK % {'name': name, 'command': command} for name, command in commands)
    return COMMAND_PLAY % {'tasks': tasks}


class Runner:
    def __init__(self, lab_name, workdir, inventory):
        self.lab_name = lab_name
        self.workdir = workdir
        self.inventory = inventory
        self.env = ansible_env(workdir)
        self.playbooks = {}
        for name, text in (('module', module_playbook()), ('commands', command_playbook())):
            path = os.path.join(workdir, name + '.yml')
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write(text)
            self.playbooks[name] = path

    def playbook(self, name):
        """Seconds of one ansible-playbook run, and its recap line of vm1."""
        started = time.monotonic()
        done = subprocess.run([ANSIBLE_PLAYBOOK, '-i', self.inventory, self.playbooks[name]], env=self.env, check=False,
                              capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit('%s failed:\n%s\n%s' % (name, done.stdout[-3000:], done.stderr[-2000:]))
        recap = [line for line in done.stdout.splitlines() if line.startswith('vm1 ')]
        return elapsed, recap[-1] if recap else ''

    def remove_secy(self):
        lab('ssh', '--name', self.lab_name, 'vm1', 'ip link del %s 2>/dev/null; true' % IFNAME)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lab', default='bench')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--keep', action='store_true')
    args = parser.parse_args()
    running = 'status running' in lab('status', '--name', args.lab, check=False).stdout
    if not running:
        print('booting lab %s ...' % args.lab, flush=True)
        lab('build')
        lab('up', '--name', args.lab, '--vms', '2', '--timeout', '300')
    try:
        with tempfile.TemporaryDirectory(prefix='l2sec-bench-') as workdir:
            inventory = os.path.join(workdir, 'inventory.yml')
            lab('inventory', '--name', args.lab, '--output', inventory)
            runner = Runner(args.lab, workdir, inventory)
            measure(runner, args.rounds)
    finally:
        if not running and not args.keep:
            lab('down', '--name', args.lab, check=False)


def measure(runner, rounds):
    times = {key: [] for key in ('module apply', 'module re-run', 'commands apply', 'commands re-run')}
    recaps = {}
    # A warm-up run of each, so that the first measured round pays no cold cache (SSH master, imports).
    for name in ('module', 'commands'):
        runner.remove_secy()
        runner.playbook(name)
    for dummy in range(rounds):
        for name in ('module', 'commands'):
            runner.remove_secy()
            for phase in ('apply', 're-run'):
                elapsed, recap = runner.playbook(name)
                times['%s %s' % (name, phase)].append(elapsed)
                recaps['%s %s' % (name, phase)] = recap
    runner.remove_secy()
    print('One SecY (1 TX SA, 3 RX SCs with 1 SA each) on vm1, %d rounds, median seconds of a whole '
          'ansible-playbook run:' % rounds)
    medians = {key: statistics.median(values) for key, values in times.items()}
    for key, value in medians.items():
        runs = ', '.join('%.1f' % v for v in times[key])
        print('  %-16s %6.1f s   (%s)   %s' % (key, value, runs, recaps[key].partition(':')[2].strip()))
    apply_ratio = medians['commands apply'] / medians['module apply']
    rerun_ratio = medians['commands re-run'] / medians['module re-run']
    print('ratios (commands / module): apply %.2f, re-run %.2f' % (apply_ratio, rerun_ratio))
    print('tasks: module 1 (changed on apply, ok on re-run); commands 9 (changed on every run, even with nothing to change)')


if __name__ == '__main__':
    main()
