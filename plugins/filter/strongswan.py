# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The strongSwan layering's filter: one host's part of a link with `ipsec` → its swanctl connections.

strongSwan has no MACsec code: it runs IKEv2 and ESP beside MACsec, never configures it. Per peer of the end, one
IKE connection with one transport-mode CHILD_SA:

- ipsec_over_macsec: between the ends' addresses on the macsec interface, all IP traffic between them;
- macsec_over_ipsec: between the ends' underlay addresses, the GRE packets of the tunnel that carries the SecY.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

CONNECTION_PREFIX = 'l2sec-'
_UNSAFE = re.compile(r'[^A-Za-z0-9_-]')  # swanctl section names: no dots (they separate levels), no spaces


def _without_prefix(address):
    return str(address).split('/', 1)[0]


def _host_prefix(address):
    return '/128' if ':' in address else '/32'


def _connection_name(link, peer):
    # The peer's index in the link's ends, not its host name: link names are unique (also once '.' reads as '-')
    # and the name always ends in -INDEX, so no two links or peers can share a name.
    return '%s%s-%d' % (CONNECTION_PREFIX, _UNSAFE.sub('-', link), peer['index'])


def _endpoints(layering, end, peer):
    """The IKE endpoints (also the identities) and the traffic selectors of one end towards one peer."""
    if layering == 'macsec_over_ipsec':
        local, remote = end['underlay'], peer['underlay']
        selector = '[gre]'
    else:
        local, remote = _without_prefix(end['address']), _without_prefix(peer['address'])
        selector = ''
    return {
        'local_addr': local, 'remote_addr': remote,
        'local_ts': local + _host_prefix(local) + selector,
        'remote_ts': remote + _host_prefix(remote) + selector,
    }


def macsec_ipsec_connections(entry):
    """The swanctl connections of one link of a host's plan part (none when the link has no `ipsec`).

    No key material: an IKE pre-shared key comes from macsec_keys, in the task that writes the config."""
    if not isinstance(entry, Mapping) or not {'name', 'options', 'end', 'peers'} <= set(entry):
        raise AnsibleFilterError('macsec_ipsec_connections: the input must be an entry of a host\'s plan part '
                                 '(macsec_topology phase=plan), with name, options, end and peers')
    ipsec = entry['options'].get('ipsec')
    if not ipsec:
        return []
    layering, end = ipsec['layering'], entry['end']
    connections = []
    for peer in entry['peers']:
        connection = {
            'name': _connection_name(entry['name'], peer),
            'link': entry['name'],
            'peer': peer['host'],
            'layering': layering,
            'auth': ipsec['auth'],
            'rekey_time': ipsec['rekey_time'],
            'ike_rekey_time': ipsec['ike_rekey_time'],
            'dpd_delay': ipsec['dpd_delay'],
            # The first end of the link initiates at rollout (roles/strongswan/tasks/up.yml); both ends trap.
            'initiator': end['index'] < peer['index'],
        }
        connection.update(_endpoints(layering, end, peer))
        connections.append(connection)
    return connections


class FilterModule:
    """The strongSwan layering's filters of l2sec.macsec."""

    def filters(self):
        return {'macsec_ipsec_connections': macsec_ipsec_connections}
