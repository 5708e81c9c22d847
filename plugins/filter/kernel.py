# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel provider's filter: one host's part of a link + its key material → macsec_secy's options."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology

# The generation picks the AN: a new generation is installed beside the old one (another AN) and the old SAs are
# removed after it, so a generation bump never replaces a key in place.
NUM_AN = 4


def an_of_generation(generation):
    return (int(generation) - 1) % NUM_AN


def _sa(record, an):
    sa = {'an': an, 'key': record['sak'], 'key_id': record['key_id']}
    if record.get('ssci') is not None:
        sa['ssci'] = record['ssci']
    return sa


def macsec_secy_args(entry, material, parent_ipv6=False):
    """The options of l2sec.macsec.macsec_secy for one kernel link of a host's plan part."""
    if not isinstance(entry, Mapping) or not {'name', 'options', 'end', 'peers'} <= set(entry):
        raise AnsibleFilterError('macsec_secy_args: the input must be an entry of a host\'s plan part '
                                 '(macsec_topology phase=plan), with name, options, end and peers')
    if not isinstance(material, Mapping) or material.get('link') != entry['name'] or 'tx' not in material:
        raise AnsibleFilterError('macsec_secy_args: the material must be the kernel key material of link %s '
                                 '(macsec_keys)' % entry.get('name'))
    options, end = entry['options'], entry['end']
    if material['tx'].get('host') != end.get('host'):
        # Another host's material would make this host send with that host's key (and SSCI): nonce reuse.
        raise AnsibleFilterError('macsec_secy_args: the material of link %s is for host %s, the entry for host %s: '
                                 'give the material that macsec_keys derived for this host'
                                 % (entry['name'], material['tx'].get('host'), end.get('host')))
    an = an_of_generation(material['generation'])
    peers = {record['host']: record for record in material.get('rx') or ()}
    missing = [peer.get('host') for peer in entry['peers'] if peer.get('host') not in peers]
    if missing:
        raise AnsibleFilterError('macsec_secy_args: the material of link %s has no key of the peer(s) %s: derive it '
                                 'from the same plan' % (entry['name'], ', '.join(str(host) for host in missing)))
    args = {
        'name': options['macsec_ifname'],
        'parent': end['interface'],
        'port': end['port'],
        'cipher': options['cipher'],
        'icv_len': options.get('icv_len'),
        'encrypt': options['encrypt'],
        'send_sci': options.get('send_sci'),
        'replay_protect': options.get('replay_protect'),
        'replay_window': options.get('replay_window'),
        'validate': options.get('validate'),
        'offload': options.get('offload'),
        'mtu': options.get('mtu'),
        'addresses': [end['address']] if end.get('address') else None,
        'parent_ipv6': parent_ipv6,
        'salt': material.get('salt'),
        'encoding_sa': an,
        'tx_sas': [_sa(material['tx'], an)],
        'rx_scs': [{'sci': peer['sci'], 'sas': [_sa(peers[peer['host']], an)]} for peer in entry['peers']],
        # macsec_over_ipsec: the parent is a GRETAP tunnel that macsec_secy makes too.
        'tunnel': _topology.tunnel_spec(entry),
    }
    # Options the link leaves unset are left out: the module's defaults (the contract's) apply.
    return {key: value for key, value in args.items() if value is not None}


class FilterModule:
    """The kernel provider's filters of l2sec.macsec."""

    def filters(self):
        return {'macsec_secy_args': macsec_secy_args}
