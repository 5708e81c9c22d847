# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""playbooks/verify.yml's filters: what macsec_health checks at one end of a link, and the fleet report.

The report judges every link from all its ends: each end's macsec_health result (the SecY, its TX SA and RX SAs,
MKA, counters under a ping) and macsec_ike_health result (IKE and CHILD SAs, ESP both ways), against what the plan
says the link must be (cipher, encrypt, validate strict, an RX SA for every peer). It adds the packet numbers used
and the time to their exhaustion at the rate seen, and the layout of the picture (SVG). No key is read or shown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.l2sec.macsec.plugins.filter.mka import macsec_mka_port
from ansible_collections.l2sec.macsec.plugins.filter.strongswan import macsec_ipsec_connections
from ansible_collections.l2sec.macsec.plugins.plugin_utils import _registered

XPN_CIPHERS = ('gcm-aes-xpn-128', 'gcm-aes-xpn-256')
PN_WARN_PERCENT = 90  # verify.yml warns past this share of an encoding SA's PN space (pn_guard.yml rotates at 75)
DEFAULTS = {'cipher': 'gcm-aes-128', 'encrypt': True, 'validate': 'strict'}
PROTECTED = 'protected'
NOT_PROTECTED = 'not protected'
NOT_CHECKED = 'not checked'
# Receive counters that must not grow while the link is checked, beside those macsec_health names itself (not
# valid, invalid, for an SA the receiver does not have): frames that came too late, or from an unknown SCI.
ERROR_COUNTERS = ('rx_late', 'rx_unknown_sci')


def _address(end):
    address = end.get('address')
    return address.split('/')[0] if address else None


def macsec_verify_port(entry, ctrl_dir='/run/l2sec-macsec/mka'):
    """What l2sec.macsec.macsec_health checks at this end of a link (an entry of the host's plan part): the SecY,
    the daemon's MKA status where wpa_supplicant keys it, and a ping to each peer's address on the link."""
    if not isinstance(entry, Mapping) or not {'name', 'provider', 'options', 'end', 'peers'} <= set(entry):
        raise AnsibleFilterError('macsec_verify_port: the input must be an entry of a host\'s plan part '
                                 '(macsec_topology phase=plan)')
    peers = [address for address in (_address(peer) for peer in entry['peers']) if address]
    if entry['provider'] == 'wpa_supplicant':
        port = macsec_mka_port(entry)
        return {'name': port['ifname'], 'daemon': port['daemon'],
                'ctrl_path': '%s/%s' % (str(ctrl_dir).rstrip('/'), port['parent']), 'peers': peers}
    return {'name': entry['options']['macsec_ifname'], 'daemon': 'none', 'peers': peers}


def _expected(options, key):
    value = options.get(key)
    return DEFAULTS[key] if value is None else value


def _setting_reasons(host, ifname, options, shown):
    """What of the SecY's settings differs from what the link must be."""
    reasons = []
    cipher = _expected(options, 'cipher')
    if shown.get('cipher') != cipher:
        reasons.append('%s: %s runs %s, the link is %s' % (host, ifname, shown.get('cipher'), cipher))
    if _expected(options, 'encrypt') and shown.get('encrypt') is False:
        reasons.append('%s: %s does not encrypt (integrity only: the payload crosses in clear)' % (host, ifname))
    validate = _expected(options, 'validate')
    if shown.get('validate') != validate:
        reasons.append('%s: %s validates %s, the link says %s' % (host, ifname, shown.get('validate'), validate))
    return reasons


def _peer_reasons(host, ifname, provider, peers, rx):
    """Kernel links: an active RX SC with an active SA for every peer's SCI. (An MKA port's SCs come and go with
    MKA; its secured state and the counters speak for it.)"""
    if provider != 'kernel':
        return []
    receiving = {sc['sci'] for sc in rx or () if sc.get('active') and any(sa.get('active') for sa in sc.get('sas') or ())}
    return ['%s: %s has no active RX SA for %s (SCI %s): it drops what that peer sends' % (host, ifname, peer['host'], peer['sci'])
            for peer in peers if peer.get('sci') and peer['sci'] not in receiving]


def _counter_reasons(host, ifname, counters):
    grown = [name for name in ERROR_COUNTERS if (counters or {}).get(name + '_delta')]
    return ['%s: %s counted frames it could not take while checked (%s)' % (
        host, ifname, ', '.join('%s +%d' % (name, counters[name + '_delta']) for name in grown))] if grown else []


def _pn_headroom(cipher, tx_sa, counters):
    """PN used by the encoding SA, its limit, the rate seen while checked, and the time left at that rate."""
    if not tx_sa or tx_sa.get('pn') is None:
        return None
    limit = 2 ** 64 if cipher in XPN_CIPHERS else 2 ** 32
    used = int(tx_sa['pn'])
    seconds = (counters or {}).get('seconds')
    rate = None
    if seconds:
        rate = round((counters.get('tx_protected_delta') or 0) / seconds, 3)
    left = max(limit - used, 0)
    exhaustion = round(left / rate) if rate else None
    return {'used': used, 'limit': limit, 'used_percent': round(100.0 * used / limit, 6),
            'per_second': rate, 'exhaustion_seconds': exhaustion}


def _pn_running_out(headroom, percent, seconds):
    """Why an encoding SA needs a new key soon: it has used `percent` of its PN space, or runs out within `seconds`
    at the rate seen; None when neither. verify.yml warns by this rule (90%), pn_guard.yml rotates by it."""
    if headroom is None:
        return None
    if headroom['used'] * 100 >= headroom['limit'] * percent:  # exact: used_percent is rounded
        return 'PN %d of %d used (%.1f%%, the limit is %s%%)' % (
            headroom['used'], headroom['limit'], headroom['used_percent'], percent)
    if headroom['exhaustion_seconds'] is not None and headroom['exhaustion_seconds'] < seconds:
        return 'PN runs out in %d s at %s frames/s (the limit is %d s)' % (
            headroom['exhaustion_seconds'], headroom['per_second'], seconds)
    return None


def _ike_report(host, entry, ike):
    """The IKE connections of this end (links with ipsec): their state, why they do not carry ESP, and what is
    worth a look although they do (two IKE SAs of one connection)."""
    names = [conn['name'] for conn in macsec_ipsec_connections(entry)]
    reports = (ike or {}).get('connections') or {}
    found, reasons, warnings = {}, [], []
    for name in names:
        report = reports.get(name)
        if not isinstance(report, Mapping):
            reasons.append('%s: the IKE connection %s was not checked' % (host, name))
            continue
        found[name] = {'healthy': bool(report.get('healthy')), 'reasons': list(report.get('reasons') or ())}
        reasons.extend('%s: %s' % (host, reason) for reason in report.get('reasons') or ())
        established = report.get('ike_sas_established') or 0
        if established > 1:
            warnings.append('%s: %s has %d established IKE SAs (both ends started one at once; they both carry ESP): '
                            'the next site.yml run ends all but the newest' % (host, name, established))
    return found, reasons, warnings


def _port_read(hostvars, host, health, ifname):
    """What `host`'s macsec_health (registered as `health`) reported of the port `ifname` (None when it did not),
    and whether the controller lost the host."""
    result, lost = _registered.checked(hostvars, host, health)
    ports = result.get('ports') if isinstance(result.get('ports'), Mapping) else {}
    return ports.get(ifname), lost


def _end_report(host, entry, hostvars, health, ike, warn_seconds):
    options, ifname = entry['options'], entry['options']['macsec_ifname']
    end = {'host': host, 'interface': entry['end'].get('interface'), 'ifname': ifname, 'checked': False,
           'protected': False, 'reasons': [], 'warnings': []}
    port, lost = _port_read(hostvars, host, health, ifname)
    if lost or not isinstance(port, Mapping):
        end['reasons'].append('%s could not be reached to check %s' % (host, ifname) if lost
                              else '%s did not check %s' % (host, ifname))
        return end
    shown = port.get('link') or {}
    end.update(checked=True, cipher=shown.get('cipher'), encrypt=shown.get('encrypt'), validate=shown.get('validate'),
               tx_sa=port.get('tx_sa'), rx=port.get('rx') or [], mka=port.get('mka'), counters=port.get('counters'),
               pings=port.get('pings'))
    end['reasons'].extend('%s: %s' % (host, reason) for reason in port.get('reasons') or ())
    if port.get('link'):
        end['reasons'].extend(_setting_reasons(host, ifname, options, shown))
    end['reasons'].extend(_peer_reasons(host, ifname, entry['provider'], entry['peers'], port.get('rx')))
    end['reasons'].extend(_counter_reasons(host, ifname, port.get('counters')))
    end['pn'] = _pn_headroom(shown.get('cipher'), port.get('tx_sa'), port.get('counters'))
    running_out = _pn_running_out(end['pn'], PN_WARN_PERCENT, warn_seconds)
    end['warnings'] = [running_out + ': rotate the link (playbooks/rotate.yml)'] if running_out else []
    if options.get('ipsec'):
        ike_result, ike_lost = _registered.checked(hostvars, host, ike)
        if ike_lost:
            end['reasons'].append('%s could not be reached to check the IKE connections of %s' % (host, entry['name']))
        else:
            end['ike'], reasons, warnings = _ike_report(host, entry, ike_result)
            end['reasons'].extend(reasons)
            end['warnings'].extend(warnings)
    end['protected'] = not end['reasons']
    return end


def _links_of(plan, hosts):
    """{link name: {entry of its first managed end, ends: [(host, entry or None)]}} in the inventory's order."""
    links = {}
    for host in hosts:
        for entry in ((plan.get('hosts') or {}).get(host) or {}).get('links') or ():
            link = links.setdefault(entry['name'], {'entry': entry, 'ends': {}})
            link['ends'][host] = entry
            for peer in entry['peers']:
                link['ends'].setdefault(peer['host'], None)
    order = {name: index for index, name in enumerate(plan.get('links') or ())}
    return dict(sorted(links.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def _link_report(name, link, hostvars, health, ike, warn_seconds):
    entry = link['entry']
    options = entry['options']
    ends = []
    for host, host_entry in link['ends'].items():
        if host_entry is None:
            ends.append({'host': host, 'checked': False, 'protected': False, 'warnings': [],
                         'reasons': ['%s is not in this run (not managed, or left out by --limit)' % host]})
        else:
            ends.append(_end_report(host, host_entry, hostvars, health, ike, warn_seconds))
    if all(end['protected'] for end in ends):
        status = PROTECTED
    elif any(end['checked'] and not end['protected'] for end in ends):
        status = NOT_PROTECTED
    else:
        status = NOT_CHECKED
    return {'name': name, 'provider': entry['provider'], 'cipher': _expected(options, 'cipher'),
            'generation': options.get('generation', 1), 'segment': len(ends) > 2,
            'ipsec': (options.get('ipsec') or {}).get('layering') if options.get('ipsec') else None,
            'status': status, 'ends': ends,
            'reasons': [reason for end in ends for reason in end['reasons']],
            'warnings': [warning for end in ends for warning in end['warnings']]}


def macsec_verify_report(plan, hostvars, hosts, health='verify_health', ike='verify_ike', pn_warn_seconds=86400):
    """The fleet's report: every link of the plan with an end among `hosts`, judged from all its ends (registered
    as `health`, macsec_health, and `ike`, macsec_ike_health), with the picture's layout. `protected` is true only
    when every link is protected at every end."""
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError('macsec_verify_report: the input must be the registered plan (macsec_topology phase=plan)')
    links = [_link_report(name, link, hostvars, health, ike, int(pn_warn_seconds))
             for name, link in _links_of(plan, hosts).items()]
    counts = {status: [link['name'] for link in links if link['status'] == status]
              for status in (PROTECTED, NOT_PROTECTED, NOT_CHECKED)}
    return {'protected': bool(links) and len(counts[PROTECTED]) == len(links), 'links': links,
            'summary': {'links': len(links), 'protected': counts[PROTECTED], 'not_protected': counts[NOT_PROTECTED],
                        'not_checked': counts[NOT_CHECKED]},
            'picture': layout(links)}


def macsec_pn_guard(plan, hostvars, hosts, health='pn_guard_health', percent=75, seconds=86400):
    """playbooks/pn_guard.yml: the static-key links to rotate because an end's encoding SA has used `percent` of
    its PN space, or runs out within `seconds` at the rate seen (each host registered macsec_health as `health`).
    MKA links are not guarded here: their key server distributes a new SAK before the PN runs out.
    Returns {rotate: [link names], ends: [{link, host, ifname, pn, reason}]} (every kernel end read; reason None
    where the PN is far from its end)."""
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError('macsec_pn_guard: the input must be the registered plan (macsec_topology phase=plan)')
    try:
        percent, seconds = float(percent), int(seconds)
    except (TypeError, ValueError):
        raise AnsibleFilterError('macsec_pn_guard: percent and seconds must be numbers, not %r and %r' % (percent, seconds))
    if not 0 < percent <= 100 or seconds < 0:
        raise AnsibleFilterError('macsec_pn_guard: percent must be above 0 and at most 100, seconds 0 or more '
                                 '(pn_guard_percent, pn_guard_seconds), not %s and %s' % (percent, seconds))
    rotate, ends = [], []
    for name, link in _links_of(plan, hosts).items():
        for host, entry in link['ends'].items():
            if entry is None or entry['provider'] != 'kernel':
                continue
            ifname = entry['options']['macsec_ifname']
            port, lost = _port_read(hostvars, host, health, ifname)
            if lost or not isinstance(port, Mapping):
                continue  # not read: nothing to judge (verify.yml reports unreachable ends)
            headroom = _pn_headroom((port.get('link') or {}).get('cipher'), port.get('tx_sa'), port.get('counters'))
            reason = _pn_running_out(headroom, percent, seconds)
            ends.append({'link': name, 'host': host, 'ifname': ifname, 'pn': headroom, 'reason': reason})
            if reason and name not in rotate:
                rotate.append(name)
    return {'rotate': rotate, 'ends': ends}


# ---------------------------------------------------------------------------------------------------------------
# The picture: hosts on a circle, a point-to-point link as a line (bent when two hosts share several), a segment
# as a hub joined to its members. Coordinates only; templates/verify/topology.svg.j2 draws them.
# ---------------------------------------------------------------------------------------------------------------

WIDTH = 800
HEIGHT = 600
RADIUS = 220  # of the circle the hosts sit on
BEND = 60  # how far apart two links between the same hosts are drawn


def _hosts_in_order(links):
    hosts = []
    for link in links:
        for end in link['ends']:
            if end['host'] not in hosts:
                hosts.append(end['host'])
    return hosts


def _positions(hosts):
    if len(hosts) == 1:
        return {hosts[0]: (WIDTH / 2, HEIGHT / 2)}
    return {host: (round(WIDTH / 2 + RADIUS * math.cos(math.pi + 2 * math.pi * index / len(hosts)), 1),
                   round(HEIGHT / 2 + RADIUS * math.sin(math.pi + 2 * math.pi * index / len(hosts)), 1))
            for index, host in enumerate(hosts)}


def _bent(start, end, offset):
    """The control point of a quadratic curve from `start` to `end`, `offset` to the side of the middle."""
    (x1, y1), (x2, y2) = start, end
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    return (round((x1 + x2) / 2 - offset * (y2 - y1) / length, 1), round((y1 + y2) / 2 + offset * (x2 - x1) / length, 1))


def _end_marks(link, points):
    """A mark near each end that is not protected, on the way to the link, with its reasons as the tooltip."""
    marks = []
    for end in link['ends']:
        if end['protected']:
            continue
        (x1, y1), (x2, y2) = points[end['host']]
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        marks.append({'host': end['host'], 'x': round(x1 + 28 * (x2 - x1) / length, 1),
                      'y': round(y1 + 28 * (y2 - y1) / length, 1),
                      'status': NOT_PROTECTED if end['checked'] else NOT_CHECKED, 'title': '; '.join(end['reasons'])})
    return marks


def layout(links):
    """{width, height, hosts: [{name, x, y, status}], links: [{name, status, paths: [d], label: {x, y}, marks}]}"""
    hosts = _hosts_in_order(links)
    where = _positions(hosts)
    pairs = {}
    drawn = []
    segments = 0
    for link in links:
        members = [end['host'] for end in link['ends']]
        if len(members) == 2:
            pair = tuple(sorted(members))
            count = pairs.get(pair, 0)
            pairs[pair] = count + 1
            offset = (count + 1) // 2 * BEND * (1 if count % 2 else -1)
            start, end = where[members[0]], where[members[1]]
            control = _bent(start, end, offset)
            paths = ['M %s %s Q %s %s %s %s' % (start + control + end)]
            label = {'x': round((start[0] + 2 * control[0] + end[0]) / 4, 1),
                     'y': round((start[1] + 2 * control[1] + end[1]) / 4, 1)}
            towards = {members[0]: (start, control), members[1]: (end, control)}
        else:
            # Several segments among the same hosts would share a hub: each next one sits lower.
            hub = (round(sum(where[host][0] for host in members) / len(members), 1),
                   round(sum(where[host][1] for host in members) / len(members) + 30 * segments, 1))
            segments += 1
            paths = ['M %s %s L %s %s' % (hub + where[host]) for host in members]
            label = {'x': hub[0], 'y': round(hub[1] - 14, 1)}
            towards = {host: (where[host], hub) for host in members}
        drawn.append({'name': link['name'], 'status': link['status'], 'segment': len(members) > 2, 'paths': paths,
                      'label': label, 'hub': None if len(members) == 2 else {'x': hub[0], 'y': hub[1]},
                      'marks': _end_marks(link, towards), 'title': '; '.join(link['reasons']) or link['status']})
    status_of = {}
    for link in links:
        for end in link['ends']:
            if not end['protected']:
                status_of[end['host']] = NOT_PROTECTED if end['checked'] else status_of.get(end['host'], NOT_CHECKED)
    return {'width': WIDTH, 'height': HEIGHT,
            'hosts': [{'name': host, 'x': where[host][0], 'y': where[host][1],
                       'status': status_of.get(host, PROTECTED)} for host in hosts],
            'links': drawn}


class FilterModule:
    """playbooks/verify.yml's filters."""

    def filters(self):
        return {'macsec_pn_guard': macsec_pn_guard, 'macsec_verify_port': macsec_verify_port,
                'macsec_verify_report': macsec_verify_report}
