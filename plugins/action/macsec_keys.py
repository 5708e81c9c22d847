# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The key material of one host's links, derived on the controller; documentation: plugins/modules/macsec_keys.py.

An action plugin rather than a filter, because its result can carry `_ansible_no_log`: Ansible then censors it
in every callback (stdout at any verbosity, the log file, --diff) whatever the task says, and registered results
are never written to the fact cache. A filter's result has no such mark: it is safe only as long as every task
that touches it says no_log, which one forgotten `debug` breaks.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys

ARGUMENT_SPEC = {
    'link': {'type': 'dict'},
    'links': {'type': 'list', 'elements': 'dict'},
    'host': {'type': 'str'},
    'master_secret': {'type': 'str', 'no_log': True},
}
MUTUALLY_EXCLUSIVE = [['link', 'links']]
REQUIRED_ONE_OF = [['link', 'links']]


class ActionModule(ActionBase):
    """Derive (or take the explicit) keys of the given links for one host; the result is always no_log."""

    TRANSFERS_FILES = False
    _requires_connection = False  # keys derive on the controller; nothing touches the host
    _supports_check_mode = True  # nothing changes anywhere

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                                                  required_one_of=REQUIRED_ONE_OF)
        if not _keys.HAS_CRYPTOGRAPHY:
            raise AnsibleActionFail('macsec_keys needs the Python library cryptography on the controller '
                                    '(pip install cryptography)')
        host = args['host'] or task_vars.get('inventory_hostname')
        entries = [args['link']] if args['link'] is not None else args['links']
        try:
            links = [_normalized(entry) for entry in entries]
            master = self._master(args, task_vars, links)
            materials = [_keys.link_material(link, host, master) for link in links]
        except _keys.ValidationError as error:
            # The message names the field and the rule, never a value: safe to show.
            return dict(result, failed=True, changed=False, msg='key material: %s' % error)
        result['changed'] = False
        result['_ansible_no_log'] = True  # censored by Ansible in every output, whatever the task says
        if args['link'] is not None:
            result['material'] = materials[0]
            result['fingerprints'] = _keys.fingerprints_of(materials[0])
        else:
            result['material'] = {material['link']: material for material in materials}
            result['fingerprints'] = {material['link']: _keys.fingerprints_of(material) for material in materials}
        result['msg'] = 'key material of %d link(s) for %s' % (len(materials), host)
        return result

    def _master(self, args, task_vars, links):
        """The master secret's bytes, or None when no link derives anything (all keys explicit)."""
        secret = args['master_secret']
        if secret is None and 'macsec_master_secret' in task_vars:
            # Task vars arrive untemplated: the usual value is "{{ vault_macsec_master_secret }}".
            secret = self._templar.template(task_vars['macsec_master_secret'])
        if secret is None:
            return None  # link_material() fails, naming the variable, if a link needs it
        return _keys.master_secret_bytes(str(secret))


def _normalized(entry):
    """A plan entry ({name, provider, options, end, peers}) or a macsec_links entry ({name, provider, ends})."""
    if not isinstance(entry, Mapping) or not entry.get('name') or not entry.get('provider'):
        raise _keys.ValidationError('link', 'must be an entry of a host\'s plan part (macsec_topology '
                                            'phase=plan) or of macsec_links, with name and provider')
    if 'end' in entry and 'options' in entry:
        return _keys.link_from_plan(entry)
    if isinstance(entry.get('ends'), list):
        return _keys.link_from_inventory(entry)
    raise _keys.ValidationError('macsec_links[%s]' % entry['name'], 'has neither ends (a macsec_links entry) nor '
                                                                    'end and peers (a plan entry)')
