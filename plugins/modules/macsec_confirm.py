#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_confirm
short_description: Probe, commit or report the commit-confirmed changes of SecYs and MKA ports
version_added: 0.1.0
description:
  - The second half of a commit-confirmed change (docs/lockout.md). M(l2sec.macsec.macsec_secy) with
    O(l2sec.macsec.macsec_secy#module:confirm_timeout) applies a change with the previous SAs still installed and
    arms a host-side timer that rolls it back. This module, run on every end of a link in the same task, decides
    with the controller whether the change stays.
  - V(probe) sends frames through each SecY (a broadcast of the IEEE local experimental EtherType 0x88B5, which the
    receiving stack drops after the SecY counted it) and reports, for each peer SCI, whether the RX SA of the
    desired state received protected frames (C(InPktsOK)) since the change. Run it on all ends at once, each end
    hears the others. It changes nothing, but for one thing - a change that kept its encoding SA
    (O(l2sec.macsec.macsec_secy#module:hold_encoding_sa)) moves it to the new AN first, since every end made its
    change by then (a hitless key change).
  - V(commit) makes a pending change final (stops the timer, removes the SAs kept for a rollback, writes the boot
    state). Commit a link only when every end heard every peer; otherwise let the timers roll it back.
  - V(status) reports whether each SecY still has a pending change, and what its last rollback restored.
  - An MKA port's change is armed by M(l2sec.macsec.macsec_secret_file) with
    O(l2sec.macsec.macsec_secret_file#module:confirm_timeout) and confirmed by M(l2sec.macsec.macsec_health) on
    every end; V(commit) and V(status) take its name (the port's macsec interface) as they take a SecY's.
author:
  - l2sec.macsec maintainers (@l2sec)
requirements:
  - pyroute2 0.7 or later on the host
attributes:
  check_mode:
    description: V(probe) reads the counters without sending and reports a held encoding SA without moving it; V(commit) reports what it would do.
    support: full
  diff_mode:
    description: Nothing to show (no keys, no configuration); V(commit) lists its steps in RV(secys).
    support: none
options:
  state:
    description: What to do with the SecYs of O(names).
    type: str
    choices: [probe, commit, status]
    required: true
  names:
    description: The macsec interfaces.
    type: list
    elements: str
    required: true
  timeout:
    description: V(probe) gives up after this many seconds (a SecY that heard all its peers stops earlier).
    type: int
    default: 30
  linger:
    description: V(probe) keeps sending this many seconds after its SecYs heard all their peers, for peers that started later.
    type: float
    default: 5
  pending_dir:
    description: Where M(l2sec.macsec.macsec_secy) keeps the pending changes.
    type: path
    default: /run/l2sec-macsec/pending
  pn_registry:
    description: The PN registry that a commit records the removed SAs' PNs in.
    type: path
    default: /var/lib/l2sec-macsec/pn-registry.json
  pn_margin:
    description: As O(l2sec.macsec.macsec_secy#module:pn_margin).
    type: int
    default: 1048576
seealso:
  - module: l2sec.macsec.macsec_secy
"""

EXAMPLES = r"""
- name: Probe the changed links from all their ends at once
  l2sec.macsec.macsec_confirm:
    state: probe
    names: [macsec0]
  register: probe

- name: Commit where every end heard every peer (the kernel role decides per link)
  l2sec.macsec.macsec_confirm:
    state: commit
    names: [macsec0]
  when: probe.secys.macsec0.ok
"""

RETURN = r"""
secys:
  description:
    - By SecY. V(probe) - C(pending), C(ok) (every peer heard), C(interface) (the SecY exists), C(peers) by SCI with
      the C(an) listened to and the C(received) frame count (null - no such RX SA), and C(moved) when it moved a held
      encoding SA (C(encoding SA 0 -> 1)). V(commit) - C(committed),
      C(changes), C(rolled_back) (the rollback's record when the timer came first). V(status) - C(pending),
      C(rolled_back).
  returned: always
  type: dict
  sample: {"macsec0": {"pending": true, "ok": true, "interface": true,
                       "peers": {"5254000000020001": {"an": 1, "received": 7, "ok": true}}}}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy

ARGUMENT_SPEC = {
    'state': {'type': 'str', 'choices': ['probe', 'commit', 'status'], 'required': True},
    'names': {'type': 'list', 'elements': 'str', 'required': True},
    'timeout': {'type': 'int', 'default': 30},
    'linger': {'type': 'float', 'default': 5},
    'pending_dir': {'type': 'path', 'default': _confirm.PENDING_DIR},
    'pn_registry': {'type': 'path', 'default': _pn_registry.DEFAULT_PATH},
    'pn_margin': {'type': 'int', 'default': _pn_registry.DEFAULT_MIN_MARGIN},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not nl.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2 (Debian: python3-pyroute2)'),
                         exception=nl.PYROUTE2_IMPORT_ERROR)
    params = module.params
    try:
        with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
            result = RUNNERS[params['state']](module, params, ipr, genl)
    except (_confirm.ConfirmError, _secy.SecyError, nl.MacsecError, _pn_registry.RegistryError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    except nl.NetlinkError as exc:
        module.fail_json(msg='netlink refused a request: %s' % exc, exception=traceback.format_exc())
    module.exit_json(**result)


def pending_of(params, names):
    found = {}
    for name in names:
        pending = _confirm.read_pending(params['pending_dir'], name, _keys.key_id)
        if pending is not None:
            found[name] = pending
    return found


def is_pending(params, name):
    """Whether SecY or MKA port `name` has a pending change (ConfirmError for a file that is not one)."""
    if _confirm_files.read(params['pending_dir'], name) is not None:
        return True
    return _confirm.read_pending(params['pending_dir'], name, _keys.key_id) is not None


def run_probe(module, params, ipr, genl):
    def read(name):
        state = _secy.read_state(ipr, genl, name)
        mac = None
        if state is not None:
            mac = ipr.get_links(state['index'])[0].get_attr('IFLA_ADDRESS')
        return state, mac

    def send(name, mac):
        if not module.check_mode:
            _confirm.send_probe(name, mac)

    pending = pending_of(params, params['names'])
    moved = move_held_encoding_sas(module, params, pending, ipr, genl)
    secys = _confirm.probe(params['names'], read, pending, params['timeout'], linger=params['linger'], send=send)
    for name, text in moved.items():
        secys[name]['moved'] = text
    return {'changed': bool(moved), 'secys': secys}


def move_held_encoding_sas(module, params, pending, ipr, genl):
    """A pending change that kept its encoding SA (macsec_secy hold_encoding_sa) sends with the new one from now: the
    probe runs on every end of a link at once, after every end made its change, so every peer has the new RX SA.
    Returns {name: what moved}. The PN registry is opened (and locked) only when an encoding SA moves."""
    moves = {}
    for name, data in sorted(pending.items()):
        current = _secy.read_state(ipr, genl, name)
        state = _confirm.move_encoding_sa(data['spec'], current)
        if state is not None:
            moves[name] = (current['link'].get('encoding_sa'), state)
    if moves and not module.check_mode:
        with registry_of(module, params) as registry:
            for name, (_before, state) in sorted(moves.items()):
                _secy.converge(state, ipr, genl, registry)
    return {name: 'encoding SA %s -> %s' % (before, state['link']['encoding_sa'])
            for name, (before, state) in moves.items()}


def registry_of(module, params):
    """The open PN registry (locked for the call), or a stand-in that records nothing in check mode."""
    if module.check_mode or not params['pn_registry']:
        return _pn_registry.no_registry()
    return _pn_registry.PnRegistry.open(params['pn_registry'], min_margin=params['pn_margin'])


def run_commit(module, params, ipr, genl):
    secys = {}
    with registry_of(module, params) as registry:
        for name in params['names']:
            if _confirm_files.read(params['pending_dir'], name) is not None:  # an MKA port's configuration
                secys[name] = _confirm_files.commit(params['pending_dir'], name, module.run_command, module.check_mode)
                continue
            secys[name] = _confirm.commit(params['pending_dir'], name, ipr, genl, registry, _keys.key_id,
                                          module.run_command, module.check_mode)
    return {'changed': any(secy['committed'] for secy in secys.values()), 'secys': secys}


def run_status(module, params, ipr, genl):
    del module, ipr, genl
    secys = {name: {'pending': is_pending(params, name), 'rolled_back': _confirm.read_rolled_back(params['pending_dir'], name)}
             for name in params['names']}
    return {'changed': False, 'secys': secys}


RUNNERS = {'probe': run_probe, 'commit': run_commit, 'status': run_status}


if __name__ == '__main__':
    main()
