#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_ike_health
short_description: Whether the host's strongSwan connections really protect traffic, in one call
version_added: 0.1.0
description:
  - Checks the given swanctl connections of the host (named C(l2sec-LINK-N) by the filter
    C(l2sec.macsec.macsec_ipsec_connections)) and says, for each, whether it protects traffic, and if not, why.
  - A connection is healthy when an IKE SA of it is C(ESTABLISHED) with a C(INSTALLED) CHILD_SA, and, after a ping
    to O(connections[].peer), ESP packets went out and came in on its CHILD_SAs. strongSwan counts an
    inbound packet only once it decrypted it, so a packet in proves the peer holds the same keys.
  - The role C(l2sec.macsec.strongswan) runs it at both ends of each changed link, and its verdict confirms or rolls
    back the change (docs/lockout.md).
  - Reads C(swanctl --list-sas --raw) once per round for all connections; changes nothing on the host.
author:
  - l2sec.macsec maintainers (@l2sec)
requirements:
  - swanctl (strongSwan 5.8 or later) and charon running on the host
  - C(ping) (iputils) when connections have a peer
attributes:
  check_mode:
    description: Reads only (and pings); runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
options:
  connections:
    description: The swanctl connections to check.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The connection (its IKE SA's name in C(swanctl --list-sas)).
        type: str
        required: true
      peer:
        description:
          - An address across the link whose traffic the connection protects (the peer's address on the link), pinged
            before the counters are read. Without it the counters are read as they are.
        type: str
  wait:
    description: Seconds to keep checking, once a second, the connections that are not healthy yet. V(0) checks once.
    type: int
    default: 0
  fail_unhealthy:
    description:
      - Fail the task when a connection is unhealthy after the wait, naming each one and its reasons. V(false) only
        reports.
    type: bool
    default: true
seealso:
  - module: l2sec.macsec.macsec_health
"""

EXAMPLES = r"""
- name: After a change of the IKE configuration, wait until both connections carry ESP
  l2sec.macsec.macsec_ike_health:
    connections:
      - {name: l2sec-rack1-ab-1, peer: 10.0.1.2}
      - {name: l2sec-dc-ab-1, peer: 10.0.9.2}
    wait: 30
"""

RETURN = r"""
healthy:
  description: Whether every connection is healthy.
  returned: always
  type: bool
unhealthy:
  description: The names of the connections that are not healthy.
  returned: always
  type: list
  elements: str
waited:
  description: Seconds from the first check to the last.
  returned: always
  type: float
connections:
  description: One entry per connection, by name.
  returned: always
  type: dict
  contains:
    healthy:
      description: Whether it protects traffic (no reasons).
      type: bool
    reasons:
      description: Why it does not, one plain-English sentence each, naming the connection.
      type: list
      elements: str
    ike_sas:
      description: How many IKE SAs of it exist.
      type: int
    ike_sas_established:
      description:
        - How many of them are established. More than one when both ends started one at the same moment; both
          carry ESP, and the strongswan role's next run ends all but the newest (playbooks/verify.yml warns).
      type: int
    ike_state:
      description: V(ESTABLISHED) when one is, else the state of the first one (V(null) without any).
      type: str
    child_state:
      description: V(INSTALLED) when a CHILD_SA is, else the state of the first one (V(null) without any).
      type: str
    packets_in:
      description: ESP packets decrypted on the CHILD_SAs of its established IKE SAs (all of them, during a rekey).
      type: int
    packets_out:
      description: ESP packets sent on those CHILD_SAs.
      type: int
    peer:
      description: The address pinged (V(null) without one).
      type: str
    replied:
      description: Whether the ping was answered (V(null) without a peer).
      type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.l2sec.macsec.plugins.module_utils import _ike_health


def main():
    module = AnsibleModule(
        argument_spec={
            'connections': {'type': 'list', 'elements': 'dict', 'required': True, 'options': {
                'name': {'type': 'str', 'required': True},
                'peer': {'type': 'str'},
            }},
            'wait': {'type': 'int', 'default': 0},
            'fail_unhealthy': {'type': 'bool', 'default': True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if params['wait'] < 0:
        module.fail_json(msg='wait: give the seconds to wait, 0 or more, not %d' % params['wait'], field='wait')
    swanctl = module.get_bin_path('swanctl', required=True, opt_dirs=['/usr/sbin', '/sbin'])
    ping = None
    if any(conn.get('peer') for conn in params['connections']):
        ping = module.get_bin_path('ping', required=True, opt_dirs=['/usr/bin', '/bin'])

    names = set(conn['name'] for conn in params['connections'])

    def list_sas():
        rc, out, err = module.run_command([swanctl, '--list-sas', '--raw'])
        if rc != 0:
            module.fail_json(msg='swanctl --list-sas failed (is strongswan.service running?): %s'
                             % (_ike_health.swanctl_error(err) or 'rc %d' % rc))
        try:
            return _ike_health.parse_list_sas(out, names)
        except _ike_health.ParseError as exc:
            module.fail_json(msg='swanctl --list-sas --raw printed what this module cannot read: %s' % exc)
        return []

    def replied(address):
        return module.run_command([ping, '-c', '3', '-i', '0.2', '-W', '1', '-n', '-q', address])[0] == 0

    result = _ike_health.health(params['connections'], list_sas, replied, params['wait'])
    if params['fail_unhealthy'] and not result['healthy']:
        module.fail_json(msg=_ike_health.unhealthy_message(result), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
