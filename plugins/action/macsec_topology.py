# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller side of the topology: validate `macsec_links` before any host is contacted, then plan.

Runs on the controller only (an action plugin that never calls its connection). Documentation:
plugins/modules/macsec_topology.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology

ARGUMENT_SPEC = {
    'phase': {'type': 'str', 'choices': ['validate', 'plan'], 'default': 'validate'},
    'links': {'type': 'raw'},
    'hosts': {'type': 'list', 'elements': 'str'},
    'host_macs': {'type': 'dict'},
    'rotate': {'type': 'list', 'elements': 'str', 'default': []},
    'revoked_hosts': {'type': 'raw', 'default': []},  # checked by the validation, which names pki_revoked_hosts
}


class ActionModule(ActionBase):
    """phase=validate: every static error at once; phase=plan: each host's part of the topology."""

    TRANSFERS_FILES = False
    _requires_connection = False  # nothing here touches a host
    _supports_check_mode = True  # nothing here changes anything either

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(ARGUMENT_SPEC)
        links = self._links(task_vars)
        result['changed'] = False
        if args['phase'] == 'validate':
            hosts = args['hosts'] if args['hosts'] is not None else self._inventory_hosts(task_vars)
            result.update(self._validate(links, hosts, args['rotate'], args['revoked_hosts']))
        else:
            host_macs = args['host_macs'] if args['host_macs'] is not None else self._preflight_macs(task_vars)
            errors = _topology.rotation_errors(links, args['rotate'])
            if errors:
                result.update(_failure(errors, 'nothing was changed'))
                return result
            links, moved = _topology.with_retired_generations(links, self._retired_generations(task_vars))
            links, rotated = _topology.rotated(links, args['rotate'])
            result.update(self._plan(links, host_macs))
            if not result.get('failed'):
                self._say_generations(result, moved, rotated)
        return result

    @staticmethod
    def _say_generations(result, moved, rotated):
        """Name the links that run another generation than the inventory's, and why."""
        generations = {name: effective for name, (dummy, effective) in moved.items()}
        generations.update({name: after for name, (dummy, after) in rotated.items()})
        if moved:
            result['msg'] += '; generation raised above what the hosts retired: %s' % ', '.join(
                '%s %d -> %d' % (name, inventory, effective) for name, (inventory, effective) in sorted(moved.items()))
        if rotated:
            result['msg'] += '; rotated to the next generation: %s' % ', '.join(
                '%s %d -> %d' % (name, before, after) for name, (before, after) in sorted(rotated.items()))
        if generations:
            result['generations'] = generations

    def _links(self, task_vars):
        if 'links' in self._task.args:
            return self._task.args['links']
        if 'macsec_links' not in task_vars:
            close = difflib.get_close_matches('macsec_links', [str(name) for name in task_vars], n=1, cutoff=0.75)
            hint = ' (the inventory defines %s: a typo?)' % close[0] if close else ''
            raise AnsibleActionFail('macsec_links is not defined%s: describe the fleet\'s links in the inventory '
                                    '(docs/topology.md), or set it to [] for none' % hint)
        # Task vars arrive untemplated: keys may come from vaulted variables through templates.
        return self._templar.template(task_vars['macsec_links'])

    @staticmethod
    def _inventory_hosts(task_vars):
        groups = task_vars.get('groups') or {}
        return list(groups.get('all', ()))

    @staticmethod
    def _preflight_reports(task_vars):
        """(host, its preflight_report or None) for each host still in the play."""
        hostvars = task_vars.get('hostvars') or {}
        for host in task_vars.get('ansible_play_hosts') or ():
            report = hostvars[host].get('preflight_report') if host in hostvars else None
            yield host, report if isinstance(report, Mapping) else None

    def _preflight_macs(self, task_vars):
        """host -> {interface: mac} from the preflight report of each host still in the play."""
        host_macs, lacking = {}, []
        for host, report in self._preflight_reports(task_vars):
            if report is None:
                lacking.append(host)
                continue
            interfaces = report.get('interfaces') or {}
            host_macs[host] = {name: (entry or {}).get('mac') for name, entry in interfaces.items()}
        if lacking:
            raise AnsibleActionFail('no preflight_report for %s: run the l2sec.macsec.preflight role on the play\'s '
                                    'hosts before phase=plan, or pass host_macs' % ', '.join(sorted(lacking)))
        return host_macs

    def _retired_generations(self, task_vars):
        """host -> {link: highest retired generation}, from the preflight reports (absent: none retired)."""
        return {host: report['retired_generations'] for host, report in self._preflight_reports(task_vars)
                if report is not None and isinstance(report.get('retired_generations'), Mapping)}

    @staticmethod
    def _validate(links, hosts, rotate, revoked_hosts):
        errors = (_topology.validate_links(links, hosts, {'revoked_hosts': revoked_hosts})
                  + _topology.rotation_errors(links, rotate))
        if errors:
            return _failure(errors, 'no host was contacted and nothing was changed')
        # Returned for roles and debugging: with defaults filled in, and never with key material.
        normalized = [_topology.redact_link(_topology.normalize_link(link)) for link in links]
        return {'links': normalized, 'msg': '%d link(s) valid' % len(normalized)}

    @staticmethod
    def _plan(links, host_macs):
        errors = []
        parts = {}
        try:
            parts = _topology.expand(links, host_macs)
        except _topology.TopologyErrors as topology_errors:
            errors.extend(topology_errors.errors)
        except TypeError as error:
            raise AnsibleActionFail(str(error)) from None
        errors.extend(_topology.check_providers_available(links))
        if errors:
            return _failure(errors, 'nothing was changed')
        # The links' names in the inventory's order: batches (filter macsec_link_batches) follow it.
        result = {'hosts': parts, 'links': [link['name'] for link in links], 'msg': 'planned %d host(s)' % len(parts)}
        if _topology.has_explicit_keys(links):
            result['_ansible_no_log'] = True  # the parts carry the inventory's explicit keys
        return result


def _failure(errors, consequence):
    lines = [str(error) for error in errors]
    return {
        'failed': True,
        'errors': lines,
        'msg': 'macsec_links has %d error(s); %s:\n%s' % (len(lines), consequence, '\n'.join(lines)),
    }
