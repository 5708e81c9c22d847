#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_secy
short_description: Converge one kernel MACsec SecY (link, TX SAs, RX SCs and SAs) over netlink
version_added: 0.1.0
description:
  - Takes the whole desired state of one MACsec interface (a SecY) and converges it in one call over netlink
    (pyroute2, no C(ip) commands), that is the macsec link and its options, the TX SAs, the RX SCs with their SAs, the
    MTU, the addresses, and the parent NIC's MTU, IPv6 and state.
  - Makes the fewest changes, in an order that does not cut traffic needlessly (RX SAs before TX SAs, the
    encoding SA moves after its new TX SA exists, removals last). What the kernel cannot change in place
    (cipher, ICV length, SCI port, parent) recreates the link, and the change says so.
  - The kernel never returns keys, only key ids; a key id defaults to a one-way fingerprint of the key, so a
    changed key is seen as a changed key id.
  - Key lifecycle. Every TX SA starts above the PN high-water mark of the host's registry
    (O(pn_registry)), which records, per SCI and key, the packet numbers that may have been used. So a reboot,
    a recreated link or a teardown followed by a new rollout never sends the same (key, SCI, PN) twice. A 32-bit
    PN space that has no room left is refused (rotate the key, or use an XPN cipher).
  - With O(persist), the desired state is written to a boot state file (0600) that the host agent of the
    M(l2sec.macsec.macsec_agent) module restores at boot, above the registry's marks.
author:
  - l2sec.macsec maintainers (@l2sec)
requirements:
  - pyroute2 0.7 or later on the host (Debian 12 python3-pyroute2 0.7.2 works)
  - the C(macsec) kernel module
extends_documentation_fragment:
  - l2sec.macsec.key_lifecycle
attributes:
  check_mode:
    description: Reads the kernel and reports the changes it would make, without making them.
    support: full
  diff_mode:
    description: Shows the SecY before and after, with key ids and never keys.
    support: full
options:
  name:
    description: The macsec interface.
    type: str
    required: true
  parent:
    description: The parent NIC. Required with O(state=present).
    type: str
  state:
    description: V(present) converges the SecY; V(absent) deletes it (recording its PNs and retiring its keys first).
    type: str
    choices: [present, absent]
    default: present
  port:
    description: The SCI port; the SCI is the parent's MAC and this port.
    type: int
    default: 1
  cipher:
    description: The cipher suite.
    type: str
    choices: [gcm-aes-128, gcm-aes-256, gcm-aes-xpn-128, gcm-aes-xpn-256]
    default: gcm-aes-128
  icv_len:
    description: The ICV length in bytes.
    type: int
    default: 16
  encrypt:
    description: Encrypt frames (V(false) only authenticates them). The C(ip link) default is off; this module's is on.
    type: bool
    default: true
  protect:
    description: Protect frames (C(protect_frames)).
    type: bool
    default: true
  send_sci:
    description: Put the SCI in every SecTAG.
    type: bool
    default: true
  end_station:
    description: The ES bit (needs O(send_sci=false)).
    type: bool
    default: false
  scb:
    description: The SCB bit (needs O(send_sci=false)).
    type: bool
    default: false
  replay_protect:
    description: Drop frames that arrive with a PN below the window.
    type: bool
    default: true
  replay_window:
    description: The replay window, in frames.
    type: int
    default: 0
  validate:
    description: How received frames are validated.
    type: str
    choices: [strict, check, disabled]
    default: strict
  offload:
    description: MACsec hardware offload (V(phy), V(mac)) needs a NIC that has it.
    type: str
    choices: ['off', phy, mac]
    default: 'off'
  encoding_sa:
    description: The AN of the TX SA that sends. Default the lowest active TX SA (the lowest TX SA when none is active).
    type: int
  salt:
    description: The XPN salt (12 bytes as hex). Required with the XPN ciphers.
    type: str
  tx_sas:
    description: The TX SAs (the keys this end sends with).
    type: list
    elements: dict
    default: []
    suboptions: &sa
      an:
        description: The association number, 0 to 3.
        type: int
        required: true
      key:
        description: The SAK as hex (16 bytes, 32 for the 256-bit ciphers).
        type: str
        required: true
      key_id:
        description: The key id (16 bytes as hex). Default a one-way fingerprint of the key.
        type: str
      pn:
        description:
          - The lowest PN. For a TX SA the first PN to send, raised above the registry's high-water mark of
            the key. Only used when the SA is added.
        type: int
        default: 1
      active:
        description: Whether the SA is active.
        type: bool
        default: true
      ssci:
        description: The SSCI of the transmitting end (XPN ciphers only).
        type: int
  rx_scs:
    description: The RX SCs (one per peer) with their SAs.
    type: list
    elements: dict
    default: []
    suboptions:
      sci:
        description: The peer's SCI (16 hex digits). Or give O(rx_scs[].mac) and O(rx_scs[].port).
        type: str
      mac:
        description: The peer's MAC address.
        type: str
      port:
        description: The peer's SCI port.
        type: int
        default: 1
      active:
        description: Whether the RX SC is active.
        type: bool
        default: true
      sas:
        description: The RX SAs (the keys the peer sends with).
        type: list
        elements: dict
        default: []
        suboptions: *sa
  mka:
    description:
      - The SAs belong to an MKA daemon (wpa_supplicant, or hostapd as the authenticator, with the C(macsec_linux)
        driver). Such a daemon uses the SecY that it finds on its parent with its SCI ("link already exists, using
        it") and then never deletes it, so the interface keeps its name, MTU and addresses across restarts and
        re-keys of the daemon.
      - The module then converges the link and the interface only (name, parent, port, cipher, ICV length,
        validation, SCI options, MTU, addresses, parent IPv6) and leaves to the daemon what it sets itself (the SAs,
        the RX SCs, the encoding SA, encrypt, protect, replay protection and the up/down state (its controlled
        port)). A link this module adds stays down until MKA has secured it. O(tx_sas), O(rx_scs) and
        O(encoding_sa) are refused, and so are XPN ciphers (no MKA release has them).
    type: bool
    default: false
  mtu:
    description:
      - The macsec MTU. Default the parent's MTU less the MACsec overhead (16 bytes of SecTAG with SCI plus the
        ICV). When the given MTU and the overhead do not fit in the parent's MTU, the parent's MTU is raised.
    type: int
  addresses:
    description: The addresses of the macsec interface (with prefix length). Omit to leave them alone.
    type: list
    elements: str
  parent_ipv6:
    description:
      - Whether the parent NIC keeps IPv6. V(false) (the default) stops its neighbour and router solicitations
        from crossing the link in cleartext beside the MACsec traffic.
    type: bool
    default: false
  tunnel:
    description:
      - The parent is a GRETAP tunnel (C(ip6gretap) for IPv6) that this module makes too, between this end's and
        the peer's routed underlay addresses, to carry MACsec across a routed network (the topology's
        C(ipsec.layering=macsec_over_ipsec), where strongSwan protects the tunnel's GRE packets with ESP).
      - O(parent) names the tunnel. Its MAC is O(tunnel.address), so the SCI stays the same whenever the tunnel is
        made again (after a reboot, by the host agent). A change of its ends or MAC makes the tunnel (and the SecY on
        it) again, and the change says so; its MTU changes in place.
      - With O(state=absent), the tunnel O(parent) is deleted after the SecY.
    type: dict
    suboptions:
      local:
        description: This end's underlay address.
        type: str
        required: true
      remote:
        description: The peer's underlay address (same family).
        type: str
        required: true
      address:
        description: The tunnel's MAC address (unicast; the topology derives a locally administered one per end).
        type: str
        required: true
      mtu:
        description: The tunnel's MTU. Default the kernel's (the route's MTU less the outer IP, GRE and Ethernet headers).
        type: int
  persist:
    description: Write the desired state to O(state_dir) for the host agent that restores it at boot.
    type: bool
    default: true
  state_dir:
    description: Where boot state files are kept (a directory of 0600 files holding keys).
    type: path
    default: /etc/l2sec-macsec/kernel
  pn_registry:
    description: The PN high-water registry of the host. Set to an empty string to keep no record (not advised).
    type: path
    default: /var/lib/l2sec-macsec/pn-registry.json
  pn_margin:
    description:
      - The least number of PNs reserved beyond the last one seen, for frames sent between two updates of the
        registry (the agent updates it on a timer and at shutdown). The reservation grows with the observed rate.
    type: int
    default: 1048576
  parents_record:
    description:
      - Where the parent's MTU, IPv6 and up state are recorded before the module first changes them, so that
        M(l2sec.macsec.macsec_teardown) puts them back. Set to an empty string to keep no record.
    type: path
    default: /var/lib/l2sec-macsec/parents.json
  confirm_timeout:
    description:
      - Commit-confirmed change (docs/lockout.md). With a number of seconds above 0, a change of an existing or new
        SecY is applied with the previous SAs still installed (the new key on its own AN, the encoding SA switched
        to it), and a transient systemd timer is armed first that rolls the SecY back to its boot state (or
        removes it, when it had none) after that many seconds, unless M(l2sec.macsec.macsec_confirm) commits it.
        The boot state file is written at the commit. Nothing is armed when nothing changes.
      - A key change on an AN in use is refused in this mode (the old SA could not stay), so raise the generation.
      - V(0) applies the change at once and for good.
    type: int
    default: 0
  hold_encoding_sa:
    description:
      - Hitless key change across the ends of a link (docs/kernel.md). With O(confirm_timeout) above 0, a change that
        moves the encoding SA to a new AN installs the new RX and TX SAs beside the old ones but keeps sending with
        the encoding SA of before. M(l2sec.macsec.macsec_confirm) moves it (O(l2sec.macsec.macsec_confirm#module:state=probe),
        or the commit). Run it on every end only after every end made its change, and no peer ever sends a frame that
        its receivers have no SA for.
      - Ignored without O(confirm_timeout), and when the SecY is new or made again.
    type: bool
    default: false
  pending_dir:
    description: Where a pending change is kept until it is committed or rolled back (a directory of 0600 files on a tmpfs).
    type: path
    default: /run/l2sec-macsec/pending
notes:
  - Keys, the salt and the boot state file never appear in results, diffs or logs.
  - The registry and its limits are described in the collection's docs/kernel.md; a restored disk snapshot
    takes the registry back in time and defeats it.
seealso:
  - module: l2sec.macsec.macsec_info
  - module: l2sec.macsec.macsec_agent
"""

EXAMPLES = r"""
- name: One end of a point-to-point link with static keys
  l2sec.macsec.macsec_secy:
    name: macsec0
    parent: eth1
    cipher: gcm-aes-128
    tx_sas:
      - an: 0
        key: "{{ vault_my_sak }}"
    rx_scs:
      - mac: "52:54:00:12:34:02"
        sas:
          - an: 0
            key: "{{ vault_peer_sak }}"
    addresses: [10.0.1.1/24]
  become: true
"""

RETURN = r"""
changes:
  description: What was changed (or would be, in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: ["add the macsec link macsec0 on eth1 (gcm-aes-128)", "add RX SC 5254001234020001"]
link_added:
  description:
    - True when this call added the link, or deleted and added it again (a new ifindex). An MKA daemon that was
      using the old link must be restarted (the M(l2sec.macsec.macsec_secy) option O(mka)).
  returned: always
  type: bool
  sample: false
start_pns:
  description: The PN each TX SA added by this call started at (raised above the registry's mark), by AN.
  returned: always
  type: dict
  sample: {"0": 1}
secy:
  description: The SecY after the call (before it, in check mode), as M(l2sec.macsec.macsec_info) returns it. No keys.
  returned: state=present
  type: dict
pending:
  description: True when the change waits for M(l2sec.macsec.macsec_confirm) and rolls back without it (O(confirm_timeout)).
  returned: always
  type: bool
  sample: true
rollback_timer:
  description: The transient systemd timer that rolls the pending change back.
  returned: when pending
  type: str
  sample: l2sec-rollback-macsec0.timer
held:
  description: The encoding SA kept for now (O(hold_encoding_sa)); the pending change moves it to the new AN later.
  returned: when O(hold_encoding_sa) kept the encoding SA
  type: int
  sample: 0
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _generations
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy

SA_OPTIONS = {
    'an': {'type': 'int', 'required': True},
    'key': {'type': 'str', 'required': True, 'no_log': True},
    'key_id': {'type': 'str'},
    'pn': {'type': 'int', 'default': 1},
    'active': {'type': 'bool', 'default': True},
    'ssci': {'type': 'int'},
}

ARGUMENT_SPEC = {
    'name': {'type': 'str', 'required': True},
    'parent': {'type': 'str'},
    'state': {'type': 'str', 'choices': ['present', 'absent'], 'default': 'present'},
    'port': {'type': 'int', 'default': 1},
    'cipher': {'type': 'str', 'choices': list(_secy.CIPHERS), 'default': 'gcm-aes-128'},
    'icv_len': {'type': 'int', 'default': 16},
    'encrypt': {'type': 'bool', 'default': True},
    'protect': {'type': 'bool', 'default': True},
    'send_sci': {'type': 'bool', 'default': True},
    'end_station': {'type': 'bool', 'default': False},
    'scb': {'type': 'bool', 'default': False},
    'replay_protect': {'type': 'bool', 'default': True},
    'replay_window': {'type': 'int', 'default': 0},
    'validate': {'type': 'str', 'choices': ['strict', 'check', 'disabled'], 'default': 'strict'},
    'offload': {'type': 'str', 'choices': ['off', 'phy', 'mac'], 'default': 'off'},
    'encoding_sa': {'type': 'int'},
    'salt': {'type': 'str', 'no_log': True},
    'tx_sas': {'type': 'list', 'elements': 'dict', 'default': [], 'options': SA_OPTIONS},
    'rx_scs': {'type': 'list', 'elements': 'dict', 'default': [], 'options': {
        'sci': {'type': 'str'},
        'mac': {'type': 'str'},
        'port': {'type': 'int', 'default': 1},
        'active': {'type': 'bool', 'default': True},
        'sas': {'type': 'list', 'elements': 'dict', 'default': [], 'options': SA_OPTIONS},
    }},
    'mka': {'type': 'bool', 'default': False},
    'mtu': {'type': 'int'},
    'addresses': {'type': 'list', 'elements': 'str'},
    'parent_ipv6': {'type': 'bool', 'default': False},
    'tunnel': {'type': 'dict', 'options': {
        'local': {'type': 'str', 'required': True},
        'remote': {'type': 'str', 'required': True},
        'address': {'type': 'str', 'required': True},
        'mtu': {'type': 'int'},
    }},
    'persist': {'type': 'bool', 'default': True},
    'state_dir': {'type': 'path', 'default': _secy.STATE_DIR},
    'pn_registry': {'type': 'path', 'default': _pn_registry.DEFAULT_PATH},
    'pn_margin': {'type': 'int', 'default': _pn_registry.DEFAULT_MIN_MARGIN},
    'parents_record': {'type': 'path', 'default': _parents.PARENTS_FILE},
    'confirm_timeout': {'type': 'int', 'default': 0},
    'hold_encoding_sa': {'type': 'bool', 'default': False},
    'retire': {'type': 'dict', 'default': {}},
    'generations_file': {'type': 'path', 'default': _generations.GENERATIONS_FILE},
    'pending_dir': {'type': 'path', 'default': _confirm.PENDING_DIR},
}


def spec_params(params):
    """The module's options in the words of _secy (the kernel's): send_sci is include_sci, replay_window window."""
    wanted = dict(params)
    wanted['include_sci'] = wanted.pop('send_sci')
    wanted['window'] = wanted.pop('replay_window')
    return wanted


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[('state', 'present', ('parent',))])
    if not nl.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2 (Debian: python3-pyroute2)'),
                         exception=nl.PYROUTE2_IMPORT_ERROR)
    params = module.params
    spec = None
    if params['confirm_timeout'] < 0:
        module.fail_json(msg='confirm_timeout: must be 0 (no confirmation) or a number of seconds, not %d'
                         % params['confirm_timeout'], field='confirm_timeout')
    if params['state'] == 'present':
        try:
            spec = _secy.normalize_spec(spec_params(params), _keys.key_id)
        except _secy.SpecError as exc:
            module.fail_json(msg='%s: %s' % (exc.field, exc.message), field=exc.field)
    try:
        retire = _generations.retire_request(params['retire'])
    except _generations.GenerationsError as exc:
        module.fail_json(msg=str(exc), field='retire')
    try:
        result = run(module, params, spec)
    except (_secy.SecyError, _confirm.ConfirmError, nl.MacsecError, _pn_registry.RegistryError, ValueError) as exc:
        module.fail_json(msg=str(getattr(exc, 'message', None) or exc))
    except nl.NetlinkError as exc:
        module.fail_json(msg='netlink refused a request for %s: %s' % (params['name'], exc),
                         exception=traceback.format_exc())
    if spec is not None and retire:
        record_retired(module, params, retire, result)
    for warning in result.pop('warnings'):
        module.warn(warning)
    before, after = result.pop('before'), result.pop('after')
    if module._diff and result['changed']:
        # The ordered netlink steps under the before/after: what check mode would do, in the order it would.
        steps = ''.join('  %d. %s\n' % (number, text) for number, text in enumerate(result['changes'], 1))
        result['diff'] = {'before': before, 'after': after,
                          'prepared': 'changes of %s:\n%s' % (params['name'], steps)}
    module.exit_json(**result)


def record_retired(module, params, retire, result):
    """The generations before the one the SecY now has keys of, recorded as retired (the key lifecycle)."""
    try:
        moved = _generations.retire(retire, params['generations_file'], module.check_mode)
    except (_generations.GenerationsError, OSError) as exc:
        module.fail_json(msg='%s has its keys, but the record of retired generations could not be written (the next '
                             'run writes it again): %s' % (params['name'], exc), **result)
    for name in moved:
        result['changed'] = True
        result['changes'].append('retire generation %d of link %s (no later run goes back to it)' % (retire[name], name))


def run(module, params, spec):
    with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
        with registry_of(params, module.check_mode) as registry:
            if spec is None:
                result = _secy.remove(params['name'], ipr, genl, registry, module.check_mode,
                                      tunnel=params['parent'] if params['tunnel'] else None)
                if _secy.remove_boot_state(params['state_dir'], params['name'], module.check_mode):
                    result['changed'] = True
                    result['changes'].append('remove the boot state file')
                return result
            if params['confirm_timeout'] and not module.check_mode:
                result = converge_confirmed(params, spec, ipr, genl, registry, module.run_command)
                if result['pending']:
                    return result
            else:
                result = _secy.converge(spec, ipr, genl, registry, module.check_mode,
                                        parents_file=params['parents_record'] or None)
    result.setdefault('pending', False)
    if params['persist'] and _secy.write_boot_state(params['state_dir'], spec, module.check_mode):
        result['changed'] = True
        result['changes'].append('write the boot state file of %s' % spec['name'])
    return result


def converge_confirmed(params, spec, ipr, genl, registry, run):
    """The change with the previous SAs kept and the rollback timer armed before it (docs/lockout.md). A SecY
    that already has the desired state is left alone: nothing is armed, and no confirmation is needed."""
    name = spec['name']
    preview = _secy.converge(spec, ipr, genl, registry, check_mode=True)
    pending = os.path.exists(_confirm.pending_path(params['pending_dir'], name))
    current = _secy.read_state(ipr, genl, name)
    applied = _confirm.keep_previous(spec, current)  # refuses before anything changes
    # keep_previous() returns the spec itself for a SecY that is new or made again: nothing of before to send with.
    held = _confirm.hold_encoding_sa(applied, current) if params['hold_encoding_sa'] and applied is not spec else None
    if pending and preview['changed'] and not _secy.converge(applied, ipr, genl, registry, check_mode=True)['changed']:
        # In place beside the SAs it keeps: the change of an earlier run, still waiting for its confirmation.
        preview.update(changed=False, changes=[])
    if not preview['changed']:
        # A change of an earlier run that is still waiting for its confirmation stays pending.
        preview['pending'] = pending
        return preview
    timer = _confirm.arm(params['pending_dir'], spec, current, params['confirm_timeout'], run,
                         state_dir=params['state_dir'] if params['persist'] else None,
                         pn_registry=params['pn_registry'])
    try:
        result = _secy.converge(applied, ipr, genl, registry, parents_file=params['parents_record'] or None)
    except _secy.SecyError as exc:
        # Half a change must not wait for the timer: back to the confirmed state now.
        _confirm.rollback(params['pending_dir'], name, ipr, genl, registry, _keys.key_id, reason='failed change')
        raise _secy.SecyError('%s The confirmed state was restored.' % exc) from None
    result.update(pending=True, rollback_timer=timer, after=preview['after'])
    result['changes'].append('arm %s: roll back in %d s unless confirmed' % (timer, params['confirm_timeout']))
    if held is not None:
        result['held'] = held
        result['changes'].append('keep sending with encoding SA %d until the confirmation moves it to %d'
                                 % (held, spec['link']['encoding_sa']))
    return result


def registry_of(params, check_mode):
    """The open PN registry (locked for the call), or a stand-in that records nothing."""
    if check_mode or not params['pn_registry']:
        return _pn_registry.no_registry()
    return _pn_registry.PnRegistry.open(params['pn_registry'], min_margin=params['pn_margin'])


if __name__ == '__main__':
    main()
