# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the benches that use the VM lab share: lab/lab.py, and ansible-playbook with this checkout as l2sec.macsec.

Not a benchmark itself. The bench scripts run as `python bench/NAME.py`, so this folder is on sys.path and they
import it as `_lab`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = '2.21.5'
ANSIBLE_PLAYBOOK = os.path.join(ROOT, '.venv', CORE, 'bin', 'ansible-playbook')


def lab(*args, check=True):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'lab', 'lab.py')] + list(args), check=check,
                          capture_output=True, text=True)


@contextlib.contextmanager
def fresh_lab(doc, default_name, vms, wires):
    """Boots a lab afresh for a bench and yields its name; takes it down afterwards unless --keep.

    Parses the bench's command line (--lab NAME, default DEFAULT_NAME; --keep; DOC's first line as description),
    builds the image if needed, stops a lab of that name and boots it again with VMS VMs on WIRES (lab.py's SPEC).
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument('--lab', default=default_name)
    parser.add_argument('--keep', action='store_true')
    args = parser.parse_args()
    lab('build')
    lab('down', '--name', args.lab, check=False)
    print('booting lab %s (%d VMs; wires %s) ...' % (args.lab, vms, wires), flush=True)
    lab('up', '--name', args.lab, '--vms', str(vms), '--wires', wires, '--timeout', '400')
    try:
        yield args.lab
    finally:
        if not args.keep:
            lab('down', '--name', args.lab, check=False)


def ansible_env(workdir, **extra):
    """Environment for ansible-playbook: this checkout as l2sec.macsec (a symlink under WORKDIR), the lab's config."""
    collections = os.path.join(workdir, 'collections', 'ansible_collections', 'l2sec')
    os.makedirs(collections)
    os.symlink(ROOT, os.path.join(collections, 'macsec'))
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(workdir, 'collections'),
                ANSIBLE_CONFIG=os.path.join(ROOT, 'examples', 'lab', 'ansible.cfg'),
                ANSIBLE_HOME=os.path.join(workdir, 'ansible-home'), **extra)


def recaps(output):
    """{host: {ok, changed, unreachable, failed, ...}} from the PLAY RECAP of an ansible-playbook run."""
    found = {}
    for line in output.splitlines():
        match = re.match(r'^(vm\d+)\s+:\s+(.*)$', line)
        if match:
            found[match.group(1)] = {key: int(value) for key, value in re.findall(r'(\w+)=(\d+)', match.group(2))}
    return found


class SiteRunner:
    """Runs `ansible-playbook l2sec.macsec.site` on a lab's inventory with the topology TOPOLOGY (YAML text)."""

    def __init__(self, workdir, inventory, topology):
        self.topology = os.path.join(workdir, 'topology.yml')
        with open(self.topology, 'w', encoding='utf-8') as handle:
            handle.write(topology)
        self.inventory = inventory
        self.env = ansible_env(workdir, ANSIBLE_NOCOLOR='1')

    def site(self):
        """Seconds of one whole site.yml run, its recap per host and its output. Stops the bench when the run failed."""
        started = time.monotonic()
        done = subprocess.run([ANSIBLE_PLAYBOOK, '-i', self.inventory, '-e', '@' + self.topology, 'l2sec.macsec.site'],
                              env=self.env, check=False, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            tail = (elapsed, done.stdout[-4000:], done.stderr[-2000:])
            raise SystemExit('site.yml failed after %.0f s:\n%s\n%s' % tail)
        return elapsed, recaps(done.stdout), done.stdout
