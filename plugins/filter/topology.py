# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters over the topology contract (docs/topology.md); their documentation is in the .yml files beside."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology


def macsec_validate(macsec_links, inventory_hosts):
    """Every error of the topology as 'path: message' strings; an empty list when it is valid.

    An invalid topology is the answer, not a failure: only arguments of the wrong type raise.
    """
    if not isinstance(inventory_hosts, (list, tuple)):
        raise AnsibleFilterError('macsec_validate: inventory_hosts must be a list of host names (like groups.all), '
                                 'not %s' % type(inventory_hosts).__name__)
    return [str(error) for error in _topology.validate_links(macsec_links, list(inventory_hosts))]


def macsec_host_parts(macsec_links, host_macs):
    """Each managed host's part of the topology; fails listing every error when the topology is invalid."""
    if not isinstance(host_macs, Mapping) or not all(isinstance(value, Mapping) for value in host_macs.values()):
        raise AnsibleFilterError('macsec_host_parts: host_macs must be a mapping host -> {interface: mac}')
    try:
        return _topology.expand(macsec_links, host_macs)
    except _topology.TopologyErrors as errors:
        raise AnsibleFilterError('macsec_links has %d error(s):\n%s' % (len(errors.errors), errors)) from None


def macsec_parent_nics(macsec_links, host):
    """The NICs of `host` that its ends use as parents: what preflight checks exist. The tunnels of
    macsec_over_ipsec ends are left out: the collection makes them."""
    nics = []
    for link in macsec_links if isinstance(macsec_links, (list, tuple)) else ():
        if not isinstance(link, Mapping) or _topology.is_tunnel_link(link.get('ipsec')):
            continue
        ends = link.get('ends')
        for end in ends if isinstance(ends, (list, tuple)) else ():
            if isinstance(end, Mapping) and end.get('host') == host and end.get('interface'):
                nics.append(end['interface'])
    return nics


class FilterModule:
    """The topology filters of l2sec.macsec."""

    def filters(self):
        return {
            'macsec_validate': macsec_validate,
            'macsec_host_parts': macsec_host_parts,
            'macsec_parent_nics': macsec_parent_nics,
        }
