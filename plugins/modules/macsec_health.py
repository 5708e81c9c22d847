#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_health
short_description: Whether each MACsec port of the host is really protected, in one call
version_added: 0.1.0
description:
  - Checks every given MACsec port of the host in one call and says, for each, whether it is protected, and if not,
    why, in plain English. Roles run it after they start MKA, and a verify playbook runs it across the fleet.
  - The kernel SecY must exist, be up (its link too, when the kernel reports it), have an active TX SA on its encoding
    SA, and at least one active RX SC with an active RX SA. It is read over netlink, one dump for all ports.
  - With O(ports[].daemon=wpa_supplicant), its control socket is asked for STATUS directly (no C(wpa_cli)), and MKA must
    say C(Secured=Yes). Not C(Authenticated=Yes), since with a pre-shared CAK wpa_supplicant 2.10 says C(Authenticated=No)
    on a secured link. The CKN and the member identifier of the answer are dropped before anything else reads it.
  - With O(ports[].daemon=hostapd) there is no MKA status to read (the control interface of hostapd 2.10 has none), so
    RV(ports.mka) is V(null) and the kernel checks alone decide.
  - With O(probe) and O(ports[].peers), a few pings go to each peer through the port between two readings of the
    frame counters. Then protected frames must have gone out (C(OutPktsEncrypted) or C(OutPktsProtected) grew) and
    valid ones come in (C(InPktsOK) grew on an RX SC). Whenever counters are sampled twice, frames that failed
    validation or came for an AN without an active RX SA in between (C(InPktsNotValid), C(InPktsInvalid),
    C(InPktsUnusedSA), C(InPktsNotUsingSA)) make the port unhealthy. Without peers the counters are reported, not
    required to move.
  - Changes nothing on the host, and returns key ids, never keys.
author:
  - l2sec.macsec maintainers (@l2sec)
requirements:
  - pyroute2 0.7 or later on the host
  - C(ping) (iputils) on the host when ports have peers and O(probe) is on
attributes:
  check_mode:
    description: Reads only (and pings); runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
options:
  ports:
    description: The MACsec ports to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The macsec interface.
        type: str
        required: true
      daemon:
        description:
          - What keys the port. V(none) for static keys (the kernel provider), V(wpa_supplicant) or V(hostapd) for MKA.
          - Only V(wpa_supplicant) has an MKA status to read; with V(hostapd) the kernel checks alone decide.
        type: str
        choices: [none, wpa_supplicant, hostapd]
        default: none
      ctrl_path:
        description:
          - The control socket of the daemon of this port, like C(/run/l2sec-macsec/mka/eth1) (its C(ctrl_interface)
            directory and the interface it runs on).
          - Required with O(ports[].daemon=wpa_supplicant).
        type: path
      peers:
        description:
          - IPv4 or IPv6 addresses (without prefix length) on the far side of the link, pinged through the port when
            O(probe) is on.
        type: list
        elements: str
        default: []
  wait:
    description:
      - Seconds to keep checking, once a second, the ports that are not healthy yet. V(0) checks once.
      - A port that was healthy once is not checked again.
    type: int
    default: 0
  probe:
    description:
      - Ping the O(ports[].peers) (C(ping -c 3 -i 0.2 -W 1 -I <port>)) between two counter samples, and require the
        counters to move.
    type: bool
    default: true
  fail_unhealthy:
    description:
      - Fail the task when a port is unhealthy after the wait, with a message naming each one and its reasons.
      - V(false) only reports (RV(healthy), RV(unhealthy)).
    type: bool
    default: true
notes:
  - The first check and its report of a port are the kernel's and the daemon's state at one moment; MKA takes a few
    seconds after the daemon starts, which is what O(wait) is for.
  - Reading wpa_supplicant's control socket needs the rights of the daemon's C(ctrl_interface) (root, C(become)).
seealso:
  - module: l2sec.macsec.macsec_info
  - module: l2sec.macsec.macsec_secy
"""

EXAMPLES = r"""
- name: After starting MKA, wait until the link is secured and carries traffic
  l2sec.macsec.macsec_health:
    ports:
      - name: macsec0
        daemon: wpa_supplicant
        ctrl_path: /run/l2sec-macsec/mka/eth1
        peers: [10.0.1.2]
    wait: 30

- name: Report on every port of the fleet without failing
  l2sec.macsec.macsec_health:
    ports:
      - name: macsec0
        peers: [10.0.1.2, "fd00:1::2"]
      - name: macsec1
        daemon: hostapd
    fail_unhealthy: false
  register: macsec_health

- name: Show what is wrong
  ansible.builtin.debug:
    msg: "{{ macsec_health.ports[item].reasons }}"
  loop: "{{ macsec_health.unhealthy }}"
"""

RETURN = r"""
healthy:
  description: Whether every port is healthy.
  returned: always
  type: bool
unhealthy:
  description: The names of the ports that are not healthy.
  returned: always
  type: list
  elements: str
waited:
  description: Seconds from the first check to the last (V(0) when the first check was the last).
  returned: always
  type: float
ports:
  description: One entry per port, by name.
  returned: always
  type: dict
  contains:
    healthy:
      description: Whether the port is protected (no reasons).
      type: bool
    reasons:
      description: Why it is not, one plain-English sentence each, naming the port.
      type: list
      elements: str
    daemon:
      description: The daemon it was checked with.
      type: str
    up:
      description: Whether the interface is administratively up (with MKA, the daemon's controlled port is open).
      type: bool
    operstate:
      description: The kernel's operational state of the link (V(up), V(lowerlayerdown), ...), V(null) if not reported.
      type: str
    link:
      description: The SecY's settings (V(null) when it does not exist); playbooks/verify.yml checks them against the plan.
      type: dict
      contains:
        cipher:
          description: The cipher suite (V(gcm-aes-128), ...).
          type: str
        icv_len:
          description: The ICV length.
          type: int
        encrypt:
          description: Whether frames are encrypted (V(false) - integrity only).
          type: bool
        validate:
          description: How received frames are validated (V(strict), V(check), V(disabled)).
          type: str
        replay_protect:
          description: Whether replay protection is on.
          type: bool
        window:
          description: The replay window.
          type: int
        sci:
          description: The SecY's own SCI.
          type: str
    encoding_sa:
      description: The AN the SecY sends with.
      type: int
    tx_sa:
      description: The TX SA on the encoding SA (V(null) when there is none).
      type: dict
      contains:
        an:
          description: Its association number.
          type: int
        key_id:
          description: The key id (hex), not the key.
          type: str
        pn:
          description: The next PN it sends.
          type: int
        active:
          description: Whether it is active.
          type: bool
    rx:
      description: The RX SCs.
      type: list
      elements: dict
      contains:
        sci:
          description: The peer's SCI (16 hex digits).
          type: str
        active:
          description: Whether the SC is active.
          type: bool
        sas:
          description: Its SAs, as AN, key id (not the key) and active.
          type: list
          elements: dict
    mka:
      description:
        - The MKA status from wpa_supplicant; V(null) without a daemon, with hostapd, or when the socket did not answer
          (a reason says why). Never the CKN nor any key.
      type: dict
      contains:
        secured:
          description: C(Secured=Yes), what health requires.
          type: bool
        authenticated:
          description: C(Authenticated) (V(false) with a pre-shared CAK on 2.10, even when secured).
          type: bool
        failed:
          description: C(Failed).
          type: bool
        kay_status:
          description: C(PAE KaY status), like V(Active).
          type: str
        actor_priority:
          description: C(Actor Priority).
          type: int
        key_server_priority:
          description: C(Key Server Priority).
          type: int
        is_key_server:
          description: C(Is Key Server) of the KaY (not reliable in wpa_supplicant 2.10).
          type: bool
        participant_is_key_server:
          description: The participant's C(is_key_server), when reported.
          type: bool
        keys_distributed:
          description: C(Number of Keys Distributed).
          type: int
        keys_received:
          description: C(Number of Keys Received).
          type: int
        actor_sci:
          description: This end's SCI as MKA names it (C(MAC@port)).
          type: str
        key_server_sci:
          description: The key server's SCI.
          type: str
        live_peers:
          description: Live MKA peers.
          type: int
        potential_peers:
          description: Potential MKA peers.
          type: int
        wpa_state:
          description: C(wpa_state), like V(COMPLETED).
          type: str
    counters:
      description:
        - The frame counters at the second sample, and each one's growth since the first (C(_delta)). V(null) when the
          SecY does not exist. Without a probe, both samples are one reading and the deltas are V(0).
        - C(tx_protected) is OutPktsProtected + OutPktsEncrypted; C(rx_ok) InPktsOK, C(rx_not_valid) InPktsNotValid,
          C(rx_invalid) InPktsInvalid, C(rx_no_sa) InPktsUnusedSA, C(rx_not_using_sa) InPktsNotUsingSA, C(rx_late)
          InPktsLate (all RX SCs), C(rx_unknown_sci) InPktsUnknownSCI + InPktsNoSCI.
      type: dict
      contains:
        probed:
          description: Whether pings were sent between the two samples.
          type: bool
        seconds:
          description: The time between the two samples (V(null) when one reading served as both).
          type: float
        tx_protected_delta:
          description: Protected frames sent during the probe.
          type: int
        rx_ok_delta:
          description: Valid frames received during the probe.
          type: int
        rx_not_valid_delta:
          description: Frames that failed validation during the probe.
          type: int
        rx_no_sa_delta:
          description: Frames for an AN without an active RX SA during the probe.
          type: int
    pings:
      description: The pings of the probe, V(null) when there was none.
      type: list
      elements: dict
      contains:
        address:
          description: The peer.
          type: str
        replied:
          description: Whether it answered.
          type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.l2sec.macsec.plugins.module_utils import _health
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl

ARGUMENT_SPEC = {
    'ports': {'type': 'list', 'elements': 'dict', 'required': True, 'options': {
        'name': {'type': 'str', 'required': True},
        'daemon': {'type': 'str', 'choices': list(_health.DAEMONS), 'default': 'none'},
        'ctrl_path': {'type': 'path'},
        'peers': {'type': 'list', 'elements': 'str', 'default': []},
    }, 'required_if': [('daemon', 'wpa_supplicant', ('ctrl_path',))]},
    'wait': {'type': 'int', 'default': 0},
    'probe': {'type': 'bool', 'default': True},
    'fail_unhealthy': {'type': 'bool', 'default': True},
}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not nl.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2 (Debian: python3-pyroute2)'),
                         exception=nl.PYROUTE2_IMPORT_ERROR)
    params = module.params
    if params['wait'] < 0:
        module.fail_json(msg='wait: give the seconds to wait, 0 or more, not %d' % params['wait'])
    try:
        ports = _health.normalize_ports(params['ports'])
    except _health.PortError as exc:
        module.fail_json(msg=str(exc), field=exc.field)
    ping = None
    if params['probe'] and any(port['peers'] for port in ports):
        ping = module.get_bin_path('ping', required=True, opt_dirs=['/usr/bin', '/bin'])
    try:
        with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
            host = _health.Host(
                read=lambda names: _health.read_ports(ipr, genl, names),
                ping=lambda name, address: module.run_command(_health.ping_argv(ping, name, address))[0] == 0,
                status=_health.query_status)
            result = _health.health(ports, host, params['probe'], params['wait'])
    except nl.MacsecError as exc:
        module.fail_json(msg=exc.message)
    except nl.NetlinkError as exc:
        module.fail_json(msg='netlink refused to read the macsec interfaces: %s' % (exc,))
    if params['fail_unhealthy'] and not result['healthy']:
        module.fail_json(msg=_health.unhealthy_message(result), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
