# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Is a MACsec port really protected? The backend of the macsec_health module, in four separate parts:

- the MKA status of wpa_supplicant: `query_status()` asks its control socket for STATUS (a datagram client of
  its own, no wpa_cli), `parse_status()` reads the answer and drops the secret lines (the CKN, the member
  identifier) before anything else sees it, `mka_report()` keeps only the fields worth reporting;
- the kernel side: `read_ports()` reads every asked SecY over netlink with one genl dump (`_secy.read_state`),
  and `counter_sample()` sums its frame counters;
- the verdict, pure: `port_reasons()` turns what was read (SecY, MKA status, two counter samples) into the
  plain-English reasons why a port is not protected; no reason means healthy;
- the loop: `check_once()` reads, probes the peers with ping and reads again; `wait_for_health()` checks again
  every second the ports that are not healthy yet, until they are or the wait is over.

Side effects (netlink, ping, the control socket, the clock) come in as callables, so each part is tested alone.
Nothing returned holds a key: the kernel sends key ids only, and the MKA report is built from an allow-list.
"""

from __future__ import annotations

import collections
import ipaddress
import os
import re
import socket
import tempfile
import time

from ansible_collections.l2sec.macsec.plugins.module_utils import _secy

DAEMONS = ('none', 'wpa_supplicant', 'hostapd')
PING_COUNT = 3
PING_INTERVAL = '0.2'
PING_TIMEOUT = '1'
RECHECK_INTERVAL = 1.0


class PortError(ValueError):
    """An option of one port that cannot be used: `field` names it (like ports[1].peers[0])."""

    def __init__(self, field, message):
        super().__init__('%s: %s' % (field, message))
        self.field = field


class StatusError(Exception):
    """The daemon's control socket did not answer STATUS (the message is for a person, and holds no reply text)."""


# ---------------------------------------------------------------------------------------------------------------
# The options
# ---------------------------------------------------------------------------------------------------------------

_IFNAME = re.compile(r'[^/:\s]{1,15}\Z')


def _peer(value, field):
    text = str(value)
    if '/' in text:
        raise PortError(field, 'give the peer address without a prefix length, like 10.0.1.2, not %s' % text)
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise PortError(field, 'is not an IPv4 or IPv6 address: %r' % text) from None


def normalize_ports(ports):
    """The `ports` option checked: Linux interface names given once, known daemons, a control socket for
    wpa_supplicant, peers as addresses. Raises PortError naming the field."""
    found = []
    seen = set()
    for index, port in enumerate(ports or ()):
        field = 'ports[%d]' % index
        name = port.get('name')
        if not isinstance(name, str) or not _IFNAME.match(name):
            raise PortError(field + '.name', 'must be a Linux interface name (1 to 15 characters, no /, : or space)')
        if name in seen:
            raise PortError(field + '.name', '%s is given twice' % name)
        seen.add(name)
        daemon = port.get('daemon') or 'none'
        if daemon not in DAEMONS:
            raise PortError(field + '.daemon', 'must be one of %s, not %r' % (', '.join(DAEMONS), daemon))
        if daemon == 'wpa_supplicant' and not port.get('ctrl_path'):
            raise PortError(field + '.ctrl_path', 'is needed with daemon wpa_supplicant: the path of its control '
                                                  'socket, like /run/l2sec-macsec/mka/eth1')
        peers = [_peer(peer, '%s.peers[%d]' % (field, number)) for number, peer in enumerate(port.get('peers') or ())]
        found.append({'name': name, 'daemon': daemon, 'ctrl_path': port.get('ctrl_path'), 'peers': peers})
    if not found:
        raise PortError('ports', 'name at least one macsec interface')
    return found


# ---------------------------------------------------------------------------------------------------------------
# wpa_supplicant's control socket
# ---------------------------------------------------------------------------------------------------------------

STATUS_TIMEOUT = 3.0
STATUS_BUFSIZE = 64 * 1024
# Lines of STATUS that are never kept: the CKN names the pre-shared CAK (this collection treats it as a secret) and
# the member identifier is the MKA participant's random id. Dropped at parse time, so no later code can leak them.
SECRET_FIELDS = frozenset(('ckn', 'mi'))


def query_status(ctrl_path, timeout=STATUS_TIMEOUT, tmp_root=None):
    """The STATUS text of the wpa_supplicant whose control socket is `ctrl_path`. Raises StatusError.

    The control interface is a datagram socket that answers to the sender's address, so the client binds a
    socket of its own, in a private directory that is removed again (as wpa_ctrl does, without wpa_cli)."""
    directory = tempfile.mkdtemp(prefix='l2sec-mka-', dir=tmp_root)
    local = os.path.join(directory, 'ctrl')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        return _exchange(sock, local, ctrl_path, timeout).decode('utf-8', 'replace')
    except socket.timeout:
        raise StatusError('no answer from %s within %g s: wpa_supplicant is busy or hung' % (ctrl_path, timeout)) \
            from None
    except FileNotFoundError:
        raise StatusError('there is no control socket %s: is wpa_supplicant running for this port?' % ctrl_path) \
            from None
    except ConnectionRefusedError:
        raise StatusError('nothing listens on %s: wpa_supplicant has stopped (a stale socket)' % ctrl_path) from None
    except PermissionError:
        raise StatusError('permission denied on %s: reading the MKA status needs root (become: true)' % ctrl_path) \
            from None
    except OSError as exc:
        raise StatusError('cannot talk to %s: %s' % (ctrl_path, exc.strerror or exc)) from None
    finally:
        sock.close()
        _remove_quietly(local, os.unlink)
        _remove_quietly(directory, os.rmdir)


def _exchange(sock, local, ctrl_path, timeout):
    deadline = time.monotonic() + timeout
    sock.settimeout(timeout)
    sock.bind(local)
    sock.connect(ctrl_path)
    sock.send(b'STATUS')
    while True:
        reply = sock.recv(STATUS_BUFSIZE)
        # "<level>..." is an unsolicited event (only sent to attached monitors, but wpa_ctrl skips them too).
        if not reply.startswith(b'<'):
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        sock.settimeout(remaining)
    if reply.strip() in (b'FAIL', b'UNKNOWN COMMAND'):
        raise StatusError('wpa_supplicant on %s refused STATUS (%s)' % (ctrl_path, reply.strip().decode('ascii')))
    return reply


def _remove_quietly(path, remove):
    try:
        remove(path)
    except OSError:
        pass  # never bound (bind failed) or already gone: nothing is left either way


def parse_status(text):
    """STATUS `key=value` lines as a dict (the first of a repeated key: the principal MKA participant comes
    first), without SECRET_FIELDS. Keys keep their spelling: wpa_supplicant 2.10 mixes 'Secured' and 'live_peers'."""
    status = {}
    for line in text.splitlines():
        key, sep, value = line.partition('=')
        if not sep or key in SECRET_FIELDS or key in status:
            continue
        status[key] = value.strip()
    return status


def _yes(value):
    return {'Yes': True, 'No': False}.get(value)


def _number(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# The reported fields: (name in the result, STATUS key, converter). An allow-list, so nothing else gets out.
MKA_FIELDS = (
    ('secured', 'Secured', _yes),
    ('authenticated', 'Authenticated', _yes),
    ('failed', 'Failed', _yes),
    ('kay_status', 'PAE KaY status', str),
    ('actor_priority', 'Actor Priority', _number),
    ('key_server_priority', 'Key Server Priority', _number),
    # 2.10's KaY-level "Is Key Server" is not reliable (it can say No on the elected key server); the lowercase
    # field of the participant is reported next to it.
    ('is_key_server', 'Is Key Server', _yes),
    ('participant_is_key_server', 'is_key_server', _yes),
    ('keys_distributed', 'Number of Keys Distributed', _number),
    ('keys_received', 'Number of Keys Received', _number),
    ('actor_sci', 'actor_sci', str),
    ('key_server_sci', 'key_server_sci', str),
    ('live_peers', 'live_peers', _number),
    ('potential_peers', 'potential_peers', _number),
    ('wpa_state', 'wpa_state', str),
)


def mka_report(status):
    """The MKA fields of a parse_status() result (None where STATUS lacks one)."""
    return {name: convert(status[key]) if key in status else None for name, key, convert in MKA_FIELDS}


# ---------------------------------------------------------------------------------------------------------------
# The kernel side
# ---------------------------------------------------------------------------------------------------------------

def _operstates(ipr):
    """{interface name: operstate in lowercase} of every link, from one rtnl dump (None where not reported)."""
    found = {}
    for link in ipr.get_links():
        state = link.get_attr('IFLA_OPERSTATE')
        found[link.get_attr('IFLA_IFNAME')] = state.lower() if isinstance(state, str) else None
    return found


def read_ports(ipr, genl, names):
    """{name: {secy: _secy.public_state() or None, error, operstate}} with one genl dump for all of them."""
    dumped = genl.dump()
    operstates = _operstates(ipr)
    found = {}
    for name in names:
        reading = {'secy': None, 'error': None, 'operstate': operstates.get(name)}
        try:
            reading['secy'] = _secy.public_state(_secy.read_state(ipr, genl, name, dumped))
        except _secy.SecyError as exc:
            reading['error'] = str(exc)
        found[name] = reading
    return found


# Reported counters → the kernel's counters behind them (lowercased as _netlink_macsec parses them), summed.
TX_COUNTERS = collections.OrderedDict((
    ('tx_protected', ('out_pkts_protected', 'out_pkts_encrypted')),  # a frame counts in one of the two
))
RX_COUNTERS = collections.OrderedDict((
    ('rx_ok', ('in_pkts_ok',)),
    ('rx_not_valid', ('in_pkts_not_valid',)),  # failed validation and dropped
    ('rx_invalid', ('in_pkts_invalid',)),  # failed validation, delivered anyway (validate check)
    ('rx_no_sa', ('in_pkts_unused_sa',)),  # for an AN without an active RX SA, delivered (validate not strict)
    ('rx_not_using_sa', ('in_pkts_not_using_sa',)),  # for an AN without an active RX SA, dropped
    ('rx_late', ('in_pkts_late',)),  # below the replay window
))
SECY_COUNTERS = collections.OrderedDict((
    ('rx_unknown_sci', ('in_pkts_unknown_sci', 'in_pkts_no_sci')),  # from an SCI without an RX SC here
))
COUNTERS = tuple(TX_COUNTERS) + tuple(RX_COUNTERS) + tuple(SECY_COUNTERS)


def _sc_total(sc_stats, sas, names):
    """A counter of one SC: the SC's own when the kernel reports it, else the sum over its SAs (whose counters
    restart with every new SA, which is why the SC's are preferred)."""
    if any(name in (sc_stats or {}) for name in names):
        return sum(sc_stats.get(name) or 0 for name in names)
    return sum((sa.get('stats') or {}).get(name) or 0 for sa in sas for name in names)


def counter_sample(secy):
    """The reported counters of a public_state() SecY, as totals."""
    stats = secy.get('stats') or {}
    sample = {}
    for counter, names in TX_COUNTERS.items():
        sample[counter] = _sc_total(stats.get('txsc'), secy['tx_sas'], names)
    for counter, names in RX_COUNTERS.items():
        sample[counter] = sum(_sc_total(sc.get('stats'), sc['sas'], names) for sc in secy['rx_scs'])
    for counter, names in SECY_COUNTERS.items():
        sample[counter] = sum((stats.get('secy') or {}).get(name) or 0 for name in names)
    return sample


def counter_report(before, after, probed, seconds=None):
    """The second sample's totals and the growth since the first (never negative: a recreated SC starts at 0), and
    the `seconds` between the two samples (None: one reading served as both)."""
    report = {'probed': probed, 'seconds': seconds}
    for counter in COUNTERS:
        report[counter] = after[counter]
        report[counter + '_delta'] = max(0, after[counter] - before[counter])
    return report


# ---------------------------------------------------------------------------------------------------------------
# The verdict: pure
# ---------------------------------------------------------------------------------------------------------------

def _tx_sa_reasons(name, secy):
    encoding_sa = secy['link'].get('encoding_sa')
    tx_sa = _tx_sa(secy)
    if tx_sa is None:
        return ['%s has no TX SA on its encoding SA (AN %s): it sends nothing protected' % (name, encoding_sa)]
    if not tx_sa['active']:
        return ['the TX SA of %s on its encoding SA (AN %s) is not active' % (name, encoding_sa)]
    if secy['link'].get('oper') is False:
        return ['the kernel says the SecY of %s is not operational' % name]
    return []


def _rx_reasons(name, secy):
    if not secy['rx_scs']:
        return ['%s has no RX SC: it accepts frames from no peer' % name]
    if not [sc for sc in secy['rx_scs'] if sc['active'] and [sa for sa in sc['sas'] if sa['active']]]:
        return ['%s has no active RX SC with an active RX SA: it accepts frames from no peer' % name]
    return []


def kernel_reasons(name, reading):
    """Why the kernel side of a read_ports() reading is not protected: SecY there, up, TX SA, RX SA."""
    if reading['error']:
        return ['%s: %s' % (name, reading['error'])]
    secy = reading['secy']
    if secy is None:
        return ['there is no interface %s on this host' % name]
    reasons = []
    if not secy['up']:
        reasons.append('%s is down (with MKA: the daemon has not opened its controlled port)' % name)
    elif reading['operstate'] not in (None, 'up', 'unknown'):
        reasons.append('%s is up but its link is %s (has its parent a carrier?)' % (name, reading['operstate']))
    reasons.extend(_tx_sa_reasons(name, secy))
    reasons.extend(_rx_reasons(name, secy))
    return reasons


def mka_reasons(name, daemon, mka, error):
    """Why the MKA side is not secured. Only wpa_supplicant tells (hostapd 2.10 has no MKA status)."""
    if daemon != 'wpa_supplicant':
        return []
    if error:
        return ['cannot read the MKA status of %s: %s' % (name, error)]
    if mka['secured'] is None:
        return ['wpa_supplicant reports no MKA state for %s: is it running with the macsec_linux driver and '
                'macsec_policy=1?' % name]
    if mka['secured']:
        return []
    # Not Authenticated: with a pre-shared CAK, 2.10 says Authenticated=No on a secured link, so only Secured counts.
    hint = ''
    if not mka['live_peers']:
        hint = ': no live MKA peer (are the CAK and CKN the same on both ends, and is the peer\'s daemon running?)'
    return ['MKA on %s is not secured (KaY %s, live peers %s)%s' % (
        name, mka['kay_status'] or 'status unknown',
        'unknown' if mka['live_peers'] is None else mka['live_peers'], hint)]


# What growth of an error counter between the two samples means (the port is named before each).
GROWTH_REASONS = (
    ('rx_not_valid_delta', '%d frames failed validation during the probe and were dropped (InPktsNotValid): the '
                           'two ends do not hold the same key for this SA, or frames are altered on the wire'),
    ('rx_invalid_delta', '%d frames failed validation during the probe and were delivered all the same '
                         '(InPktsInvalid, validate check)'),
    ('rx_no_sa_delta', '%d frames arrived during the probe for an AN without an active RX SA (InPktsUnusedSA): the '
                       'peer sends with a key this end does not have'),
    ('rx_not_using_sa_delta', '%d frames arrived during the probe for an AN without an active RX SA and were '
                              'dropped (InPktsNotUsingSA): the peer sends with a key this end does not have'),
)


def _probe_hint(counters, pings):
    silent = [ping['address'] for ping in pings or () if not ping['replied']]
    hints = []
    if silent:
        hints.append('no ping reply from %s' % ', '.join(silent))
    if counters['rx_late_delta']:
        hints.append('%d frames were too late (InPktsLate: replayed, or below the replay window)'
                     % counters['rx_late_delta'])
    return '; '.join(hints)


def counter_reasons(name, counters, pings):
    """Why the counters say the port is not protected: error counters grew between the samples, or (when its
    peers were pinged between them) no protected frame went out or none came in valid."""
    if counters is None:
        return []
    reasons = ['%s: %s' % (name, text % counters[delta]) for delta, text in GROWTH_REASONS if counters[delta]]
    if not counters['probed']:
        return reasons
    if not counters['tx_protected_delta']:
        reasons.append('%s sent no protected frame during the probe (OutPktsProtected and OutPktsEncrypted did not '
                       'grow)' % name)
    if not counters['rx_ok_delta']:
        hint = _probe_hint(counters, pings)
        reasons.append('%s received no valid frame from its peers during the probe (InPktsOK did not grow%s)'
                       % (name, '; ' + hint if hint else ''))
    return reasons


def port_reasons(port, reading, mka, mka_error, counters, pings):
    """Every reason why the port is not protected (none: healthy). Pure: the SecY as read, the MKA report or the
    error of asking for it, the counters between the two samples and the pings sent between them."""
    name = port['name']
    return (kernel_reasons(name, reading) + mka_reasons(name, port['daemon'], mka, mka_error)
            + counter_reasons(name, counters, pings))


def _tx_sa(secy):
    found = [sa for sa in secy['tx_sas'] if sa['an'] == secy['link'].get('encoding_sa')]
    return found[0] if found else None


def _shown_tx_sa(secy):
    sa = _tx_sa(secy) if secy else None
    if sa is None:
        return None
    return {'an': sa['an'], 'key_id': sa.get('keyid'), 'pn': sa.get('pn'), 'active': sa['active']}


def _shown_rx(secy):
    if secy is None:
        return []
    return [{'sci': sc['sci'], 'active': sc['active'],
             'sas': [{'an': sa['an'], 'key_id': sa.get('keyid'), 'active': sa['active']} for sa in sc['sas']]}
            for sc in secy['rx_scs']]


# The SecY's settings a report shows (playbooks/verify.yml checks them against the plan).
SHOWN_LINK_OPTIONS = ('cipher', 'icv_len', 'encrypt', 'validate', 'replay_protect', 'window', 'sci')


def port_report(port, reading, mka, counters, pings, reasons):
    """What the module returns for one port: key ids and counters, never a key."""
    secy = reading['secy']
    return {
        'healthy': not reasons, 'reasons': reasons, 'daemon': port['daemon'],
        'up': bool(secy and secy['up']), 'operstate': reading['operstate'],
        'link': {option: secy['link'].get(option) for option in SHOWN_LINK_OPTIONS} if secy else None,
        'encoding_sa': secy['link'].get('encoding_sa') if secy else None,
        'tx_sa': _shown_tx_sa(secy), 'rx': _shown_rx(secy),
        'mka': mka, 'counters': counters, 'pings': pings,
    }


# ---------------------------------------------------------------------------------------------------------------
# Checking, and checking again
# ---------------------------------------------------------------------------------------------------------------

# The side effects a check needs: read(names) -> read_ports() result, ping(name, address) -> replied,
# status(ctrl_path) -> STATUS text (raises StatusError).
Host = collections.namedtuple('Host', ('read', 'ping', 'status'))


def ping_argv(ping, name, address):
    """A short ping through the macsec interface (bound to it, so it cannot leave by another route)."""
    argv = [ping]
    if ipaddress.ip_address(address).version == 6:
        argv.append('-6')
    return argv + ['-c', str(PING_COUNT), '-i', PING_INTERVAL, '-W', PING_TIMEOUT, '-I', name, address]


def _mka_of(port, status):
    if port['daemon'] != 'wpa_supplicant':
        return None, None  # none: static keys; hostapd 2.10's control interface has no MKA status to read
    try:
        return mka_report(parse_status(status(port['ctrl_path']))), None
    except StatusError as exc:
        return None, str(exc)


def check_port(port, before, after, pings, status, seconds=None):
    """One port's report from the readings before and after the probe (pings None: not probed), `seconds` apart."""
    mka, mka_error = _mka_of(port, status)
    counters = None
    if before['secy'] is not None and after['secy'] is not None:
        counters = counter_report(counter_sample(before['secy']), counter_sample(after['secy']), pings is not None,
                                  seconds)
    reasons = port_reasons(port, after, mka, mka_error, counters, pings)
    return port_report(port, after, mka, counters, pings, reasons)


def check_once(ports, host, probe=True, clock=time.monotonic):
    """{name: port_report()} of every port: read, ping the peers of the ports that exist, read again. Without
    any ping the one reading serves as both samples (the deltas are 0: there was no probe to measure)."""
    names = [port['name'] for port in ports]
    started = clock()
    before = host.read(names)
    probed = [port for port in ports if probe and port['peers'] and before[port['name']]['secy'] is not None]
    pings = {}
    for port in probed:
        pings[port['name']] = [{'address': address, 'replied': bool(host.ping(port['name'], address))}
                               for address in port['peers']]
    after = host.read(names) if probed else before
    seconds = round(clock() - started, 3) if probed else None
    return {name: check_port(port, before[name], after[name], pings.get(name), host.status, seconds)
            for name, port in zip(names, ports)}


def wait_for_health(ports, check, wait=0, clock=time.monotonic, sleep=time.sleep, interval=RECHECK_INTERVAL):
    """Check every port, then every `interval` seconds again the ones that are not healthy yet, until all are or
    `wait` seconds have passed (a port that was healthy once keeps that report). Returns (reports, waited):
    waited is the time from the first check to the last."""
    start = last = clock()
    reports = check(ports)
    while True:
        pending = [port for port in ports if not reports[port['name']]['healthy']]
        now = clock()
        if not pending or now - start >= wait:
            break
        # A check that took longer than the interval (pings) is followed by the next at once.
        next_check = min(last + interval, start + wait)
        if next_check > now:
            sleep(next_check - now)
        last = clock()
        reports.update(check(pending))
    return reports, round(last - start, 1)


def health(ports, host, probe=True, wait=0, clock=time.monotonic, sleep=time.sleep):
    """The module's result: ports (name -> report), healthy, unhealthy (names), waited."""
    reports, waited = wait_for_health(ports, lambda pending: check_once(pending, host, probe), wait, clock, sleep)
    ordered = dict((port['name'], reports[port['name']]) for port in ports)
    unhealthy = [name for name, report in ordered.items() if not report['healthy']]
    return {'ports': ordered, 'healthy': not unhealthy, 'unhealthy': unhealthy, 'waited': waited}


def unhealthy_message(result):
    """The failure message: each unhealthy port with its reasons."""
    return 'MACsec is not healthy on %s: %s' % (', '.join(result['unhealthy']), '; '.join(
        reason for name in result['unhealthy'] for reason in result['ports'][name]['reasons']))
