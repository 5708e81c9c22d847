# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether the IKE connections of a host really protect traffic (macsec_ike_health; the strongSwan confirmation).

A connection is healthy when its IKE SA is ESTABLISHED, a CHILD_SA is INSTALLED, and ESP packets went out and came
in on it after a ping to the peer across the link: the peer decrypted what this end sent, and this end what the
peer sent (strongSwan counts a packet only once its ICV checked out). Both ends check, so the controller sees the
traffic cross in both directions at both ends.

The SAs are read from `swanctl --list-sas --raw`: one line per IKE SA, in vici's own notation
(`name {key=value list=[a b] section {...}}`). Side effects (swanctl, ping, the clock) come in as callables.
"""

from __future__ import annotations

import re
import time

_NAME = re.compile(r'\s*([^\s{}=\[\]]+)\s*(\{|=)')


class ParseError(ValueError):
    """swanctl printed something that is not vici's raw notation."""


def _list_value(text, index):
    """A `[a b[c]]` list from `index` (at its `[`): (its items, the index after its `]`). Items may hold brackets of
    their own (a traffic selector like 10.0.0.1/32[gre])."""
    depth, items, item = 0, [], ''
    for at in range(index, len(text)):
        char = text[at]
        if char == '[':
            depth += 1
            if depth == 1:
                continue
        elif char == ']':
            depth -= 1
            if depth == 0:
                return items + ([item] if item else []), at + 1
        if depth == 1 and char.isspace():
            items, item = items + ([item] if item else []), ''
        else:
            item += char
    raise ParseError('a list that does not end at %d' % index)


# Where a plain value ends: before the blank that starts the next key (vici's keys are lowercase words with dashes,
# `packets-in=`, `child-sas {`), or before the `}` that closes its section. swanctl prints values as they are, so a
# value may hold blanks and `=` of its own (an identity like `C=CH, O=Foo Bar, CN=gw`).
_VALUE_END = re.compile(r'\s+(?=[a-z0-9][a-z0-9_-]*(=|\s*\{|\s*\[))|\s*\}')


def _plain_value(text, index):
    end = _VALUE_END.search(text, index)
    end = end.start() if end else len(text)
    return text[index:end], end


def parse_section(text, start=0):
    """One `{...}` body of vici's raw notation from `start` (just after its `{`): ({key: value or section or
    [items]}, the index after its closing `}`)."""
    section, index = {}, start
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index >= len(text):
            raise ParseError('the text ends before the } of the section at %d (cut off?)' % start)
        if text[index] == '}':
            return section, index + 1
        match = _NAME.match(text, index)
        if not match:
            raise ParseError('unexpected text at %d: %r' % (index, text[index:index + 40]))
        key, index = match.group(1), match.end()
        if match.group(2) == '{':
            section[key], index = parse_section(text, index)
        elif text.startswith('[', index):
            section[key], index = _list_value(text, index)
        else:
            section[key], index = _plain_value(text, index)


_EVENT = re.compile(r'list-sa event \{\s*([^\s{}=]+)\s*\{')


def swanctl_error(err):
    """What swanctl said went wrong: its last line, without the lines of the plugins it could not load (Debian's
    swanctl prints one for each plugin its build does not have, on every call)."""
    lines = [line.strip() for line in (err or '').splitlines()
             if line.strip() and not (line.startswith('plugin ') and 'failed to load' in line)]
    return lines[-1] if lines else ''


def parse_list_sas(text, names=None):
    """The IKE SAs in the output of `swanctl --list-sas --raw`: [{'name': connection, ...the SA's keys...}].
    With `names`, only the SAs of those connections: the lines of other connections (the host may have its own,
    with identities this reader has not seen the like of) are not parsed at all."""
    sas = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith('list-sa event {'):
            continue
        event = _EVENT.match(line)
        if event and names is not None and event.group(1) not in names:
            continue
        event, dummy = parse_section(line, len('list-sa event {'))
        for name, body in event.items():
            if isinstance(body, dict):
                sas.append(dict(body, name=name))
    return sas


def _count(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def connection_state(name, sas):
    """What the IKE SAs of connection `name` say: {ike_state, child_state, packets_in, packets_out, ike_sas,
    ike_sas_established} (more than one established: both ends started one at the same moment).
    The packets are summed over all CHILD_SAs of its established IKE SAs: a rekey (make-before-break) may have
    moved the probe's packets to a new CHILD_SA, or left them on the one it is deleting."""
    ike = [sa for sa in sas if sa['name'] == name]
    established = [sa for sa in ike if sa.get('state') == 'ESTABLISHED']
    children = [child for sa in established for child in (sa.get('child-sas') or {}).values() if isinstance(child, dict)]
    installed = [child for child in children if child.get('state') == 'INSTALLED']
    return {
        'ike_sas': len(ike),
        'ike_sas_established': len(established),
        'ike_state': 'ESTABLISHED' if established else (ike[0].get('state') if ike else None),
        'child_state': 'INSTALLED' if installed else (children[0].get('state') if children else None),
        'packets_in': sum(_count(child.get('packets-in')) for child in children),
        'packets_out': sum(_count(child.get('packets-out')) for child in children),
    }


def reasons(connection, state, replied):
    """Why connection {name, peer} does not protect traffic (empty when it does), one sentence each, naming it."""
    name, peer = connection['name'], connection.get('peer')
    if not state['ike_sas']:
        return ['%s has no IKE SA (IKE with the peer did not come up: `journalctl -u strongswan` on both ends)' % name]
    if state['ike_state'] != 'ESTABLISHED':
        return ['the IKE SA of %s is %s, not ESTABLISHED' % (name, state['ike_state'])]
    if state['child_state'] != 'INSTALLED':
        return ['%s has no installed CHILD_SA (%s)' % (name, state['child_state'] or 'none')]
    found = []
    probe = ' after a ping to %s%s' % (peer, '' if replied else ' (no reply)') if peer else ''
    if not state['packets_out']:
        found.append('no ESP packet went out on %s%s' % (name, probe))
    if not state['packets_in']:
        found.append('no ESP packet came in on %s%s' % (name, probe))
    return found


def check_once(connections, list_sas, ping):
    """{name: report} of every connection: ping each peer, then read the SAs of all at once."""
    replied = {conn['name']: ping(conn['peer']) if conn.get('peer') else None for conn in connections}
    sas = list_sas()
    reports = {}
    for conn in connections:
        state = connection_state(conn['name'], sas)
        found = reasons(conn, state, replied[conn['name']])
        reports[conn['name']] = dict(state, healthy=not found, reasons=found, peer=conn.get('peer'),
                                     replied=replied[conn['name']])
    return reports


def health(connections, list_sas, ping, wait=0, clock=time.monotonic, sleep=time.sleep):
    """Check until every connection is healthy or `wait` seconds have passed; a connection healthy once is not
    checked again. Returns {healthy, unhealthy, connections, waited}."""
    start = clock()
    reports, todo = {}, list(connections)
    while True:
        reports.update(check_once(todo, list_sas, ping))
        todo = [conn for conn in todo if not reports[conn['name']]['healthy']]
        if not todo or clock() - start >= wait:
            break
        sleep(1)
    unhealthy = sorted(name for name, report in reports.items() if not report['healthy'])
    return {'healthy': not unhealthy, 'unhealthy': unhealthy, 'connections': reports,
            'waited': round(clock() - start, 1)}


def unhealthy_message(result):
    return 'IKE connections not protecting traffic: ' + '; '.join(
        reason for name in result['unhealthy'] for reason in result['connections'][name]['reasons'])
