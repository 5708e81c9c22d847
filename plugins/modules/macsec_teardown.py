#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_teardown
short_description: Remove from a host everything l2sec.macsec made, and put its parent NICs back as they were
version_added: 0.1.0
description:
  - In one call, in this order, stops and disables the collection's systemd units (the MKA daemons
    C(l2sec-mka@), C(l2sec-hostapd@), C(l2sec-ike-up) and the host agent), closes the IKE SAs of the
    collection's strongSwan connections and unloads them, removes the collection's FreeRADIUS module and
    virtual server (Debian's stock ones are enabled again), deletes every SecY that has a boot state file
    (with its GRETAP tunnel), after recording its PNs and retiring its keys in the PN registry, puts each
    parent's MTU, IPv6 and up state back as recorded before the collection first changed them, and removes
    the unit files, C(/etc/l2sec-macsec), the agent and its modules-load file.
  - Keeps the PN registry and the record of retired generations (the key lifecycle), and the installed packages.
  - Records O(retire) as retired generations first, so a later rollout of those links uses new keys even if
    the teardown stops halfway.
author:
  - l2sec.macsec maintainers (@l2sec)
attributes:
  check_mode:
    description: Reports what it would remove and changes nothing.
    support: full
  diff_mode:
    description: Shows what of the collection is on the host before, and the retired generations after.
    support: full
options:
  retire:
    description:
      - Link name to the generation the link runs on this host (the plan's effective generation). Each is
        recorded as retired in O(generations_file), never lowered.
    type: dict
    default: {}
  generations_file:
    description: The record of retired generations.
    type: path
    default: /var/lib/l2sec-macsec/generations.json
  pn_registry:
    description: The PN high-water registry of the host, where removed SecYs record their PNs and retire their keys.
    type: path
    default: /var/lib/l2sec-macsec/pn-registry.json
  parents_record:
    description: The record of the parents' settings before the collection first changed them.
    type: path
    default: /var/lib/l2sec-macsec/parents.json
notes:
  - Only what the collection made is touched. A macsec link without a boot state file of the collection stays,
    and a parent that still carries one keeps its settings (a warning says so).
seealso:
  - module: l2sec.macsec.macsec_secy
  - module: l2sec.macsec.macsec_agent
"""

EXAMPLES = r"""
- name: Remove l2sec.macsec from the host, retiring the generations its links ran
  l2sec.macsec.macsec_teardown:
    retire:
      dc1-leaf1: 3
  become: true
"""

RETURN = r"""
changes:
  description: What was done (in check mode, what would be), in order.
  returned: always
  type: list
  elements: str
  sample: [stop and disable l2sec-mka@eth2.service, delete the macsec link macsec-wire1]
retired:
  description: The links whose retired generation moved up.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.l2sec.macsec.plugins.module_utils import _generations
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.module_utils import _teardown

ARGUMENT_SPEC = {
    'retire': {'type': 'dict', 'default': {}},
    'generations_file': {'type': 'path', 'default': _generations.GENERATIONS_FILE},
    'pn_registry': {'type': 'path', 'default': _pn_registry.DEFAULT_PATH},
    'parents_record': {'type': 'path', 'default': _parents.PARENTS_FILE},
}


# What stops a teardown: each is reported with what was done before it.
STOPS = (_teardown.TeardownError, _generations.GenerationsError, _parents.ParentsError, _secy.SecyError,
         _pn_registry.RegistryError, nl.MacsecError, nl.NetlinkError, OSError)


def boot_state_secys(state_dir):
    """[(name, parent, is a tunnel)] of the boot state files; an unreadable file still names its SecY."""
    found = []
    for path, spec in _secy.read_boot_states(state_dir, _keys.key_id):
        if isinstance(spec, Exception):
            found.append((os.path.basename(path)[:-len('.json')], None, False))
        else:
            found.append((spec['name'], spec['parent'], bool(spec['tunnel'])))
    return found


def retire_map(module):
    retire = {}
    for name, generation in module.params['retire'].items():
        if isinstance(generation, str) and generation.isdigit():
            generation = int(generation)  # templated values may arrive as text
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 1:
            module.fail_json(msg='retire.%s: a generation is a whole number from 1, not %r' % (name, generation))
        retire[str(name)] = generation
    return retire


class HostNetwork:
    """The netlink side of the teardown: delete a SecY, put a parent's settings back, list macsec parents."""

    def __init__(self, ipr, genl, registry_path):
        self.ipr = ipr
        self.genl = genl
        self.registry_path = registry_path

    def remove_secy(self, name, tunnel):
        # The registry is locked per SecY, not for the whole call: the agent's ExecStop (stopped in an earlier
        # step) takes the same lock to record its PNs.
        with _pn_registry.PnRegistry.open(self.registry_path) as registry:
            _secy.remove(name, self.ipr, self.genl, registry, tunnel=tunnel)

    def set_parent(self, name, settings):
        found = self.ipr.link_lookup(ifname=name)
        if not found:
            return  # the NIC is gone: nothing to put back
        if 'mtu' in settings:
            self.ipr.link('set', index=found[0], mtu=settings['mtu'])
        if 'ipv6' in settings and settings['ipv6'] is not None:
            _secy.set_ipv6(name, settings['ipv6'])
        if 'up' in settings:
            self.ipr.link('set', index=found[0], state='up' if settings['up'] else 'down')

    def macsec_parents(self):
        links = self.ipr.get_links()  # one dump: the names and the macsec links' parents
        names = {link['index']: link.get_attr('IFLA_IFNAME') for link in links}
        return {names.get(link.get_attr('IFLA_LINK')) for link in links if _secy.link_kind(link) == 'macsec'}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not nl.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2 (Debian: python3-pyroute2)'),
                         exception=nl.PYROUTE2_IMPORT_ERROR)
    retire = retire_map(module)
    paths = _teardown.Paths()
    paths.parents_file = module.params['parents_record']

    def run(argv):
        return module.run_command(argv)

    try:
        found = _teardown.find(run, paths, boot_state_secys(paths.state_dir))
        steps = _teardown.plan(found)
        retired = _generations.retire(retire, module.params['generations_file'], module.check_mode)
        result = {'changed': bool(steps or retired), 'changes': [step['text'] for step in steps],
                  'retired': retired}
        if module._diff:
            result['diff'] = {'before': dict(found, parents=sorted(found['parents']),
                                             secys=[name for name, dummy, dummy2 in found['secys']]),
                              'after': {'retired_generations': dict(_generations.load(module.params['generations_file']),
                                                                    **{name: retire[name] for name in retired})}}
        if steps and not module.check_mode:
            teardown = apply_steps(module, run, paths, steps)
            result['changes'] = teardown.done
            for warning in teardown.warnings:
                module.warn(warning)
    except STOPS as exc:  # pylint: disable=catching-non-exception  # a tuple of exception classes
        module.fail_json(msg='teardown stopped: %s' % (getattr(exc, 'message', None) or exc))
    module.exit_json(**result)


def apply_steps(module, run, paths, steps):
    with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
        network = HostNetwork(ipr, genl, module.params['pn_registry'])
        teardown = _teardown.Teardown(run, paths, network.remove_secy, network.set_parent, network.macsec_parents)
        try:
            teardown.apply(steps)
        except STOPS as exc:  # pylint: disable=catching-non-exception  # a tuple of exception classes
            done = '; '.join(teardown.done) or 'nothing'
            raise _teardown.TeardownError('%s. Done before it: %s. Run the teardown again to finish.'
                                          % (getattr(exc, 'message', None) or exc, done)) from None
    return teardown


if __name__ == '__main__':
    main()
