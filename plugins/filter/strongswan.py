# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The strongSwan layering's filters: one host's part of a link with `ipsec` → its swanctl connections; the ends'
IKE health checks → the verdict of commit-confirmed swanctl files (docs/lockout.md).

strongSwan has no MACsec code: it runs IKEv2 and ESP beside MACsec, never configures it. Per peer of the end, one
IKE connection with one transport-mode CHILD_SA:

- ipsec_over_macsec: between the ends' addresses on the macsec interface, all IP traffic between them;
- macsec_over_ipsec: between the ends' underlay addresses, the GRE packets of the tunnel that carries the SecY.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.l2sec.macsec.plugins.plugin_utils import _registered
from ansible_collections.l2sec.macsec.plugins.plugin_utils import _verdicts

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
            'provider': entry.get('provider'),
            'layering': layering,
            'auth': ipsec['auth'],
            'rekey_time': ipsec['rekey_time'],
            'ike_rekey_time': ipsec['ike_rekey_time'],
            'dpd_delay': ipsec['dpd_delay'],
            # The first end of the link initiates at rollout (roles/strongswan/tasks/up.yml); both ends trap.
            'initiator': end['index'] < peer['index'],
            # What the confirmation pings across the link (both layerings carry it in ESP). Without addresses
            # only MKA's own frames cross a macsec_over_ipsec link (tasks/main.yml refuses the kernel provider so).
            'probe': _without_prefix(peer['address']) if peer.get('address') else None,
        }
        connection.update(_endpoints(layering, end, peer))
        connections.append(connection)
    return connections


def macsec_ipsec_connection_pattern(links):
    """An extended regular expression (grep -E) that matches the names of every connection of `links`, at any peer:
    what the role ends when a link is taken out, once only its name is left (its swanctl file's)."""
    # A list, or what Jinja's map hands on (a generator)
    links = [] if isinstance(links, (str, Mapping)) or not isinstance(links, Iterable) else list(links)
    if not links:
        raise AnsibleFilterError('macsec_ipsec_connection_pattern: the input must be a non-empty list of link names')
    # _connection_name's characters are [A-Za-z0-9_-]: nothing in them is special to a regular expression.
    return '%s(%s)-[0-9]+' % (CONNECTION_PREFIX, '|'.join(_UNSAFE.sub('-', str(link)) for link in links))


def macsec_ike_health_connections(connections):
    """What l2sec.macsec.macsec_ike_health checks of connections of macsec_ipsec_connections: each one's name, and
    the peer's address on the link that it pings."""
    return [{'name': conn['name'], 'peer': conn.get('probe')} for conn in connections or ()]


def _link_of_file(item):
    """The link of one item of the role's loop that writes the swanctl files."""
    return item.get('strongswan_link')


def _flagged_files(hostvars, host, files, flag):
    """The links of `host` whose swanctl file has `flag` set, in the loops registered under `files` (one name, or a
    list: the role writes new files before the SecYs and the others batch by batch)."""
    names = [files] if isinstance(files, str) else list(files)
    return set().union(*(_registered.flagged_links(_registered.registered(hostvars, host, name), flag, _link_of_file)
                         for name in names))


def macsec_ike_changed_links(hostvars, hosts, files='strongswan_files'):
    """The links whose swanctl file changed its content at some end among `hosts` in this run (registered as
    `files`, one name or a list; a new mode alone changes nothing strongSwan reads): the links the strongswan role
    makes take effect and confirms."""
    links = set()
    for host in hosts:
        links |= _flagged_files(hostvars, host, files, 'content_changed')
    return sorted(links)


def macsec_ike_new_links(plan, hostvars, hosts, found='strongswan_found'):
    """The links with ipsec that no end among `hosts` has a swanctl file of yet (each host registered a find of the
    collection's files as `found`). The role writes their files before the SecYs, so that their traps protect the
    first packet; a link that some end has a file of changes in its batch, at all its ends at once."""
    with_file = {}
    for host in hosts:
        paths = [entry.get('path') or '' for entry in _registered.registered(hostvars, host, found).get('files') or ()
                 if isinstance(entry, Mapping)]
        with_file[host] = {posixpath.basename(path)[len('l2sec-macsec-'):-len('.conf')] for path in paths
                           if posixpath.basename(path).startswith('l2sec-macsec-') and path.endswith('.conf')}
    links = {}
    for host in hosts:
        for entry in ((plan.get('hosts') or {}).get(host) or {}).get('links') or ():
            if (entry.get('options') or {}).get('ipsec'):
                links[entry['name']] = links.get(entry['name'], True) and entry['name'] not in with_file[host]
    return sorted(name for name, new in links.items() if new)


def _end_reasons(host, link, connections, health, lost):
    if lost:
        return ['%s could not be reached to check the IKE connections of %s (its SSH may cross this link)'
                % (host, link)]
    if not health or health.get('skipped'):
        return ['%s did not check the IKE connections of %s' % (host, link)]
    reports = health.get('connections') or {}
    reasons = []
    for name in connections:
        report = reports.get(name)
        if not isinstance(report, Mapping):
            reasons.append('%s did not check %s: %s' % (host, name, health.get('msg') or 'no result for it'))
        elif not report.get('healthy'):
            reasons.extend('%s: %s' % (host, reason) for reason in report.get('reasons') or ['%s is not healthy' % name])
    return reasons


def macsec_ike_verdicts(plan, hostvars, hosts, links, files='strongswan_files', health='strongswan_health',
                        reached=('strongswan_terminates', 'strongswan_terminate_jobs')):
    """The verdict on each of `links` (those whose swanctl file changed at some end) with an end in `hosts`, from
    the IKE health check of its ends (registered as `health`): confirmed when every connection at every end in the
    play carries ESP both ways. An end counts as changed when its file is pending (registered as `files`, one name
    or a list), and as
    lost when the controller could not reach it (in the tasks registered as `reached`, or in the health check).
    Returns what plugin_utils._verdicts.decide() does; the change to commit is `ike-LINK`."""
    ends = []
    for host in hosts:
        pending = _flagged_files(hostvars, host, files, 'pending')
        checked, lost = _registered.checked(hostvars, host, health, reached)
        for entry in ((plan.get('hosts') or {}).get(host) or {}).get('links') or ():
            if entry.get('name') not in links or not (entry.get('options') or {}).get('ipsec'):
                continue
            names = [conn['name'] for conn in macsec_ipsec_connections(entry)]
            ends.append(_verdicts.End(entry['name'], host, 'ike-' + entry['name'], entry['name'] in pending, lost,
                                      _end_reasons(host, entry['name'], names, checked, lost)))
    return _verdicts.decide(ends)


class FilterModule:
    """The strongSwan layering's filters of l2sec.macsec."""

    def filters(self):
        return {'macsec_ipsec_connections': macsec_ipsec_connections, 'macsec_ike_verdicts': macsec_ike_verdicts,
                'macsec_ike_health_connections': macsec_ike_health_connections,
                'macsec_ipsec_connection_pattern': macsec_ipsec_connection_pattern,
                'macsec_ike_changed_links': macsec_ike_changed_links, 'macsec_ike_new_links': macsec_ike_new_links}
