#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_agent
short_description: Install the kernel provider's host agent (boot restore, PN high-water timer) and the macsec module
version_added: 0.1.0
description:
  - In one call, prepares a host for static-key SecYs that survive reboots without reusing packet numbers.
  - Loads the C(macsec) kernel module and loads it at every boot (C(/etc/modules-load.d/l2sec-macsec.conf)).
  - Installs the host agent under C(/usr/lib/l2sec-macsec), the same code as the M(l2sec.macsec.macsec_secy)
    module, copied from this collection, so the host restores exactly what the module converges.
  - Installs and enables three systemd units. C(l2sec-macsec.service) restores every SecY of the boot state
    files at boot, each TX SA starting above its key's PN reservation, and records the PNs at shutdown.
    C(l2sec-macsec-persist.timer) records them every O(interval) seconds.
author:
  - l2sec.macsec maintainers (@l2sec)
attributes:
  check_mode:
    description: Reports what it would change.
    support: full
  diff_mode:
    description: Lists the files that change (their content is code and units, never keys).
    support: full
options:
  state:
    description: V(absent) stops and removes the agent and its units (the PN registry and the boot states stay).
    type: str
    choices: [present, absent]
    default: present
  interval:
    description: Seconds between two records of the PN high-water marks.
    type: int
    default: 30
  pn_margin:
    description: The least reservation beyond the last PN seen (see M(l2sec.macsec.macsec_secy)).
    type: int
    default: 1048576
notes:
  - Needs root (C(become)) and systemd.
seealso:
  - module: l2sec.macsec.macsec_secy
"""

EXAMPLES = r"""
- name: Prepare the host for static-key SecYs
  l2sec.macsec.macsec_agent:
    interval: 30
  become: true
"""

RETURN = r"""
changes:
  description: What changed.
  returned: always
  type: list
  elements: str
  sample: ["load the macsec kernel module", "write /etc/systemd/system/l2sec-macsec.service"]
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

# Imported here, at the top, so that Ansible ships every file of the agent's bundle in this module's payload.
from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.plugins.module_utils import _files
from ansible_collections.l2sec.macsec.plugins.module_utils import _ike_health
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy

BUNDLE_MODULES = {'_agent': _agent, '_confirm': _confirm, '_confirm_files': _confirm_files, '_files': _files,
                  '_ike_health': _ike_health, '_netlink_macsec': _netlink_macsec, '_parents': _parents, '_pn_registry': _pn_registry, '_secy': _secy}


def bundle_files():
    """The agent's files by path: the launcher and the collection's own module_utils, read from this module's
    payload (so the host runs the code of the collection version that installed it)."""
    files = {_agent.LAUNCHER: (_agent.LAUNCHER_TEXT.encode('utf-8'), 0o755)}
    for name in _agent.BUNDLE:
        module = BUNDLE_MODULES[name]
        source = module.__loader__.get_data(module.__file__)
        path = os.path.join(_agent.INSTALL_DIR, _agent.BUNDLE_PACKAGE, name + '.py')
        files[path] = (source, 0o644)
    return files


def unit_files(interval, pn_margin):
    return {os.path.join(_agent.UNIT_DIR, name): (text.encode('utf-8'), 0o644)
            for name, text in _agent.unit_texts(interval, pn_margin).items()}


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def sync_files(files, check_mode):
    """Write the files that differ (content or mode). Returns the paths written."""
    written = []
    for path, (content, mode) in sorted(files.items()):
        if _read(path) == content and (os.stat(path).st_mode & 0o7777) == mode:
            continue
        written.append(path)
        if check_mode:
            continue
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        temp = path + '.l2sec-tmp'
        with open(temp, 'wb') as handle:
            handle.write(content)
        os.chmod(temp, mode)
        os.replace(temp, path)
    return written


class Agent:
    def __init__(self, module):
        self.module = module
        self.changes = []
        self.systemctl = module.get_bin_path('systemctl', required=True)

    def run(self, *args):
        rc, out, err = self.module.run_command([self.systemctl] + list(args))
        return rc, out.strip(), err.strip()

    def must(self, *args):
        rc, out, err = self.run(*args)
        if rc != 0:
            self.module.fail_json(msg='systemctl %s failed: %s (journalctl -u %s says why)' % (
                ' '.join(args), err or out, args[-1]), changes=self.changes)

    def change(self, text, action=None):
        self.changes.append(text)
        if action is not None and not self.module.check_mode:
            action()

    def load_module(self):
        if not os.path.isdir('/sys/module/macsec'):
            modprobe = self.module.get_bin_path('modprobe', required=True)
            self.change('load the macsec kernel module',
                        lambda: self.module.run_command([modprobe, 'macsec'], check_rc=True))
        for path in sync_files({_agent.MODULES_LOAD: (b'macsec\n', 0o644)}, self.module.check_mode):
            self.changes.append('write %s' % path)

    def present(self, interval, pn_margin):
        self.load_module()
        for path in sync_files(bundle_files(), self.module.check_mode):
            self.changes.append('write %s' % path)
        units = sync_files(unit_files(interval, pn_margin), self.module.check_mode)
        for path in units:
            self.changes.append('write %s' % path)
        if units:
            self.change('reload systemd', lambda: self.must('daemon-reload'))
        for unit in (_agent.SERVICE, _agent.PERSIST_TIMER):
            if self.run('is-enabled', unit)[1] != 'enabled':
                self.change('enable %s' % unit, lambda unit=unit: self.must('enable', unit))
            if self.run('is-active', unit)[1] != 'active':
                self.change('start %s' % unit, lambda unit=unit: self.must('start', unit))
            elif unit == _agent.PERSIST_TIMER and units:
                self.change('restart %s' % unit, lambda unit=unit: self.must('restart', unit))

    def absent(self):
        for unit in (_agent.PERSIST_TIMER, _agent.SERVICE):
            path = os.path.join(_agent.UNIT_DIR, unit)
            if not os.path.exists(path):
                continue
            # Stopping the service records the PNs one last time (its ExecStop), before the agent goes.
            self.change('stop and disable %s' % unit, lambda unit=unit: self.must('disable', '--now', unit))
        for path in list(unit_files(_agent.DEFAULT_INTERVAL, 0)) + [_agent.MODULES_LOAD]:
            if os.path.exists(path):
                self.change('remove %s' % path, lambda path=path: os.unlink(path))
        if os.path.exists(_agent.INSTALL_DIR):
            self.change('remove %s' % _agent.INSTALL_DIR, lambda: shutil.rmtree(_agent.INSTALL_DIR))
        if any(text.startswith('remove /etc/systemd') for text in self.changes):
            self.change('reload systemd', lambda: self.must('daemon-reload'))


def main():
    module = AnsibleModule(argument_spec={
        'state': {'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'},
        'interval': {'type': 'int', 'default': _agent.DEFAULT_INTERVAL},
        'pn_margin': {'type': 'int', 'default': 1048576},
    }, supports_check_mode=True)
    if not 5 <= module.params['interval'] <= 3600:
        module.fail_json(msg='interval: must be 5 to 3600 seconds, not %d' % module.params['interval'])
    if module.params['pn_margin'] < 1:
        module.fail_json(msg='pn_margin: must be at least 1')
    agent = Agent(module)
    if module.params['state'] == 'present':
        agent.present(module.params['interval'], module.params['pn_margin'])
    else:
        agent.absent()
    result = {'changed': bool(agent.changes), 'changes': agent.changes}
    if module._diff and agent.changes:
        result['diff'] = {'before': '', 'after': ''.join(text + '\n' for text in agent.changes)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
