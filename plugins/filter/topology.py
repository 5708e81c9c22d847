# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters over the topology contract (docs/topology.md); their documentation is in the .yml files beside."""

from __future__ import annotations

import ipaddress
import re
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


def _normal_address(text):
    """An address as ipaddress writes it (so 2001:DB8::1 and 2001:db8:0::1 are one), or the text as it is."""
    text = str(text).strip().strip('[]')
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.lower()


# A jump host in ssh's arguments: -J host, -oProxyJump=..., -o ProxyCommand=... (ssh's options are case-blind).
_PROXY = re.compile(r'(^|\s)-J\s*\S|proxy(jump|command)', re.IGNORECASE)


def macsec_ssh_may_cross(ssh_host, addresses, ssh_args=''):
    """Whether the controller's SSH to a host may cross one of the host's links: the host is reached at one of the
    links' `addresses` (with or without prefix length), or through a jump host (-J, ProxyJump or ProxyCommand in
    `ssh_args`), which may be a peer across the link. The roles then run what may cut the link detached."""
    if not isinstance(addresses, (list, tuple)):
        raise AnsibleFilterError('macsec_ssh_may_cross: give the addresses as a list, not %r' % (addresses,))
    own = {_normal_address(str(address).split('/', 1)[0]) for address in addresses if address}
    return _normal_address(ssh_host) in own or bool(_PROXY.search(str(ssh_args or '')))


class FilterModule:
    """The topology filters of l2sec.macsec."""

    def filters(self):
        return {
            'macsec_validate': macsec_validate,
            'macsec_host_parts': macsec_host_parts,
            'macsec_parent_nics': macsec_parent_nics,
            'macsec_ssh_may_cross': macsec_ssh_may_cross,
        }
