# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Do the IKE connections of a host protect traffic (plugins/module_utils/_ike_health.py): the parser of
`swanctl --list-sas --raw` (vici's raw notation, on a real line of strongSwan 5.9.8), the state of one connection
from its SAs, the reasons it is not healthy, one round of checks (pings, then one read of the SAs) and the wait
loop (a fake clock)."""

from __future__ import annotations

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _ike_health

# What `swanctl --list-sas --raw` printed on strongSwan 5.9.8 (Debian 12) right after a rekey of the CHILD_SA:
# one IKE SA, the old CHILD_SA DELETED, the new one INSTALLED, no ESP packet yet.
REAL_SAMPLE = (
    'list-sa event {l2sec-lab-ike-out-1 {uniqueid=1 version=2 state=ESTABLISHED local-host=10.199.62.1 '
    'local-port=500 local-id=10.199.62.1 remote-host=10.199.62.2 remote-port=500 remote-id=10.199.62.2 '
    'initiator=yes initiator-spi=39d0037d10733e91 responder-spi=8a723dbec759de3d encr-alg=AES_GCM_16 '
    'encr-keysize=256 prf-alg=PRF_HMAC_SHA2_384 dh-group=ECP_384 established=37 rekey-time=12970 child-sas '
    '{l2sec-lab-ike-out-1-4 {name=l2sec-lab-ike-out-1 uniqueid=4 reqid=2 state=DELETED mode=TRANSPORT protocol=ESP '
    'spi-in=c5b80324 spi-out=c5ff3e74 encr-alg=AES_GCM_16 encr-keysize=256 dh-group=ECP_384 bytes-in=0 '
    'packets-in=0 bytes-out=0 packets-out=0 rekey-time=-2 life-time=2 install-time=21 '
    'local-ts=[10.199.62.1/32[gre]] remote-ts=[10.199.62.2/32[gre]]} l2sec-lab-ike-out-1-5 '
    '{name=l2sec-lab-ike-out-1 uniqueid=5 reqid=2 state=INSTALLED mode=TRANSPORT protocol=ESP spi-in=ce8b06d1 '
    'spi-out=ca5107ee encr-alg=AES_GCM_16 encr-keysize=256 dh-group=ECP_384 bytes-in=0 packets-in=0 bytes-out=0 '
    'packets-out=0 rekey-time=14 life-time=19 install-time=3 local-ts=[10.199.62.1/32[gre]] '
    'remote-ts=[10.199.62.2/32[gre]]}}}}\n'
    'list-sas reply {}\n'
)
NAME = 'l2sec-lab-ike-out-1'


def child(name, uniqueid, state='INSTALLED', packets_in=0, packets_out=0):
    """One CHILD_SA in vici's raw notation."""
    return ('%s-%d {name=%s uniqueid=%d reqid=1 state=%s mode=TRANSPORT protocol=ESP bytes-in=%d packets-in=%d '
            'bytes-out=%d packets-out=%d local-ts=[10.0.1.1/32] remote-ts=[10.0.1.2/32]}'
            % (name, uniqueid, name, uniqueid, state, packets_in * 100, packets_in, packets_out * 100, packets_out))


def ike_line(name, state='ESTABLISHED', children=(), uniqueid=1):
    """One `list-sa event` line of an IKE SA with the given CHILD_SAs (as child() makes them)."""
    return ('list-sa event {%s {uniqueid=%d version=2 state=%s local-host=10.0.1.1 remote-host=10.0.1.2 '
            'initiator=yes child-sas {%s}}}\n' % (name, uniqueid, state, ' '.join(children)))


def listing(*lines):
    return ''.join(lines) + 'list-sas reply {}\n'


# ---------------------------------------------------------------------------------------------------------------
# parse_list_sas()

def test_the_real_sample_of_strongswan_5_9_8_parses():
    sa, = _ike_health.parse_list_sas(REAL_SAMPLE)
    assert sa['name'] == NAME and sa['state'] == 'ESTABLISHED' and sa['uniqueid'] == '1'
    assert (sa['local-host'], sa['remote-host'], sa['remote-id']) == ('10.199.62.1', '10.199.62.2', '10.199.62.2')
    assert sa['initiator-spi'] == '39d0037d10733e91' and sa['rekey-time'] == '12970'
    assert list(sa['child-sas']) == ['l2sec-lab-ike-out-1-4', 'l2sec-lab-ike-out-1-5']
    old, new = sa['child-sas']['l2sec-lab-ike-out-1-4'], sa['child-sas']['l2sec-lab-ike-out-1-5']
    assert (old['state'], new['state']) == ('DELETED', 'INSTALLED')
    assert old['rekey-time'] == '-2' and new['spi-in'] == 'ce8b06d1' and new['name'] == NAME
    assert (new['packets-in'], new['packets-out']) == ('0', '0')
    # A traffic selector holds brackets of its own inside the list's.
    assert new['local-ts'] == ['10.199.62.1/32[gre]'] and new['remote-ts'] == ['10.199.62.2/32[gre]']


def test_the_real_sample_is_established_and_installed_but_carried_no_esp_yet():
    state = _ike_health.connection_state(NAME, _ike_health.parse_list_sas(REAL_SAMPLE))
    assert state == {'ike_sas': 1, 'ike_sas_established': 1, 'ike_state': 'ESTABLISHED', 'child_state': 'INSTALLED', 'packets_in': 0,
                     'packets_out': 0}
    assert _ike_health.reasons({'name': NAME, 'peer': '10.0.9.2'}, state, True) == [
        'no ESP packet went out on %s after a ping to 10.0.9.2' % NAME,
        'no ESP packet came in on %s after a ping to 10.0.9.2' % NAME]


def test_lists_split_at_blanks_and_keep_nested_brackets():
    text = ('list-sa event {c {child-sas {c-1 {local-ts=[10.0.0.1/32[gre] fd00::1/128[tcp/22] 10.0.0.0/24] '
            'remote-ts=[] state=INSTALLED}}}}\n')
    sa, = _ike_health.parse_list_sas(text)
    assert sa['child-sas']['c-1'] == {'local-ts': ['10.0.0.1/32[gre]', 'fd00::1/128[tcp/22]', '10.0.0.0/24'],
                                      'remote-ts': [], 'state': 'INSTALLED'}


def test_several_ike_sas_each_on_their_line_in_order():
    text = listing(ike_line('l2sec-a-1', children=[child('l2sec-a-1', 3, packets_in=2)]),
                   ike_line('l2sec-a-1', state='CONNECTING', uniqueid=2),
                   ike_line('l2sec-b-0', uniqueid=7, children=[child('l2sec-b-0', 8), child('l2sec-b-0', 9)]))
    sas = _ike_health.parse_list_sas(text)
    assert [(sa['name'], sa['uniqueid'], sa['state']) for sa in sas] == [
        ('l2sec-a-1', '1', 'ESTABLISHED'), ('l2sec-a-1', '2', 'CONNECTING'), ('l2sec-b-0', '7', 'ESTABLISHED')]
    assert sas[0]['child-sas']['l2sec-a-1-3']['packets-in'] == '2'
    assert sas[1]['child-sas'] == {}
    assert list(sas[2]['child-sas']) == ['l2sec-b-0-8', 'l2sec-b-0-9']


def test_no_sa_and_lines_that_are_no_sa_event_give_nothing():
    assert _ike_health.parse_list_sas('list-sas reply {}\n') == []
    assert _ike_health.parse_list_sas('') == []
    # swanctl's pretty output (without --raw) and anything else before or after the events is not an SA.
    text = 'l2sec-a-1: #1, ESTABLISHED, IKEv2, 39d0037d10733e91_i*\n\n' + REAL_SAMPLE
    assert [sa['name'] for sa in _ike_health.parse_list_sas(text)] == [NAME]


def test_leading_blanks_of_a_line_do_not_matter():
    assert [sa['name'] for sa in _ike_health.parse_list_sas('  ' + REAL_SAMPLE)] == [NAME]


@pytest.mark.parametrize('text, message', [
    ('list-sa event {a {local-ts=[10.0.0.1/32 state=INSTALLED}}\n', 'a list that does not end'),
    ('list-sa event {a {local-ts=[10.0.0.1/32[gre]}}\n', 'a list that does not end'),
    ('list-sa event {=ESTABLISHED}\n', 'unexpected text at 15'),
    ('list-sa event {a {state ESTABLISHED}}\n', 'unexpected text'),
    ('list-sa event {a b}\n', 'unexpected text'),
    ('list-sa event {a {[x]}}\n', 'unexpected text'),
], ids=['unclosed-list', 'unclosed-nested-list', 'no-key', 'no-equals', 'bare-words', 'list-without-key'])
def test_what_is_not_vicis_raw_notation_raises_parse_error(text, message):
    with pytest.raises(_ike_health.ParseError, match=message):
        _ike_health.parse_list_sas(text)


def test_values_may_hold_blanks_and_equal_signs():
    # swanctl prints values as they are: an X.509 identity is a DN with blanks and '=' of its own.
    text = ('list-sa event {l2sec-a-1 {state=ESTABLISHED local-id=C=CH, O=Foo Bar, CN=gw remote-id=CN=peer one '
            'child-sas {l2sec-a-1-2 {state=INSTALLED packets-in=3}}}}\n')
    sa, = _ike_health.parse_list_sas(text)
    assert (sa['local-id'], sa['remote-id']) == ('C=CH, O=Foo Bar, CN=gw', 'CN=peer one')
    assert sa['child-sas']['l2sec-a-1-2'] == {'state': 'INSTALLED', 'packets-in': '3'}


def test_a_line_cut_off_before_its_braces_close_is_an_error_not_an_sa():
    with pytest.raises(_ike_health.ParseError, match='ends before the }'):
        _ike_health.parse_list_sas(REAL_SAMPLE.splitlines()[0][:-2])


def test_with_names_the_lines_of_other_connections_are_not_parsed():
    other = 'list-sa event {site-vpn {state=ESTABLISHED local-id=odd {{ text [}\n'
    assert [sa['name'] for sa in _ike_health.parse_list_sas(other + REAL_SAMPLE, {NAME})] == [NAME]
    assert _ike_health.parse_list_sas(other, {NAME}) == []
    with pytest.raises(_ike_health.ParseError):
        _ike_health.parse_list_sas(other + REAL_SAMPLE)
    # A line of one of the names is read as strictly as without names.
    with pytest.raises(_ike_health.ParseError):
        _ike_health.parse_list_sas(REAL_SAMPLE.splitlines()[0][:-2], {NAME})


def test_parse_error_is_a_value_error():
    assert issubclass(_ike_health.ParseError, ValueError)


# ---------------------------------------------------------------------------------------------------------------
# connection_state() and reasons()

def state_of(name, *lines):
    return _ike_health.connection_state(name, _ike_health.parse_list_sas(listing(*lines)))


CONN = {'name': 'l2sec-a-1', 'peer': '10.0.1.2'}


def test_a_connection_without_an_ike_sa():
    state = state_of('l2sec-a-1', ike_line('l2sec-b-0', children=[child('l2sec-b-0', 1, 'INSTALLED', 5, 5)]))
    assert state == {'ike_sas': 0, 'ike_sas_established': 0, 'ike_state': None, 'child_state': None, 'packets_in': 0, 'packets_out': 0}
    assert _ike_health.reasons(CONN, state, False) == [
        'l2sec-a-1 has no IKE SA (IKE with the peer did not come up: `journalctl -u strongswan` on both ends)']


def test_an_ike_sa_that_is_still_connecting():
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1', state='CONNECTING'))
    assert state['ike_sas'] == 1 and state['ike_state'] == 'CONNECTING' and state['child_state'] is None
    assert _ike_health.reasons(CONN, state, True) == ['the IKE SA of l2sec-a-1 is CONNECTING, not ESTABLISHED']


def test_an_established_ike_sa_without_a_child_sa():
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1'))
    assert state['ike_state'] == 'ESTABLISHED' and state['child_state'] is None
    assert _ike_health.reasons(CONN, state, True) == ['l2sec-a-1 has no installed CHILD_SA (none)']


def test_a_child_sa_that_is_not_installed_is_named_by_its_state():
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1', children=[child('l2sec-a-1', 2, 'INSTALLING')]))
    assert _ike_health.reasons(CONN, state, True) == ['l2sec-a-1 has no installed CHILD_SA (INSTALLING)']


def test_packets_out_but_none_in_and_no_reply():
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1', children=[child('l2sec-a-1', 2, packets_out=3)]))
    assert (state['packets_out'], state['packets_in']) == (3, 0)
    assert _ike_health.reasons(CONN, state, False) == [
        'no ESP packet came in on l2sec-a-1 after a ping to 10.0.1.2 (no reply)']


def test_without_a_peer_the_reasons_name_no_ping():
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1', children=[child('l2sec-a-1', 2, packets_in=3)]))
    assert _ike_health.reasons({'name': 'l2sec-a-1'}, state, None) == ['no ESP packet went out on l2sec-a-1']


def test_esp_both_ways_is_healthy():
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1', children=[child('l2sec-a-1', 2, packets_in=3, packets_out=3)]))
    assert state == {'ike_sas': 1, 'ike_sas_established': 1, 'ike_state': 'ESTABLISHED', 'child_state': 'INSTALLED', 'packets_in': 3,
                     'packets_out': 3}
    assert _ike_health.reasons(CONN, state, True) == []


def test_the_packets_of_a_rekey_count_on_the_old_child_sa_and_the_new():
    # Make-before-break: the probe went out on the new CHILD_SA, its answer came in on the one being deleted.
    state = state_of('l2sec-a-1', ike_line('l2sec-a-1', children=[child('l2sec-a-1', 2, 'REKEYED', packets_in=3),
                                                                  child('l2sec-a-1', 3, 'INSTALLED', packets_out=3)]))
    assert state['child_state'] == 'INSTALLED' and (state['packets_in'], state['packets_out']) == (3, 3)
    assert _ike_health.reasons(CONN, state, True) == []


def test_only_the_established_ike_sas_of_the_connection_count():
    state = state_of('l2sec-a-1',
                     ike_line('l2sec-a-1', state='DELETING', children=[child('l2sec-a-1', 1, packets_in=9, packets_out=9)]),
                     ike_line('l2sec-a-1', uniqueid=2, children=[child('l2sec-a-1', 2)]),
                     ike_line('l2sec-b-0', uniqueid=3, children=[child('l2sec-b-0', 3, packets_in=7, packets_out=7)]))
    assert state == {'ike_sas': 2, 'ike_sas_established': 1, 'ike_state': 'ESTABLISHED', 'child_state': 'INSTALLED', 'packets_in': 0,
                     'packets_out': 0}
    assert len(_ike_health.reasons(CONN, state, True)) == 2


def test_a_counter_that_is_no_number_counts_as_none():
    text = 'list-sa event {l2sec-a-1 {state=ESTABLISHED child-sas {c {state=INSTALLED packets-in=0x01ff packets-out=}}}}\n'
    state = _ike_health.connection_state('l2sec-a-1', _ike_health.parse_list_sas(text))
    assert (state['packets_in'], state['packets_out']) == (0, 0)


# ---------------------------------------------------------------------------------------------------------------
# check_once(): the pings first, then one read of the SAs for all connections

class Host:
    """The swanctl and ping of a host: `lines[name]` is the IKE SA line of each connection, and a ping of a peer
    in `answering` moves 3 packets each way on the connections towards it (`towards`)."""

    def __init__(self, towards, answering=()):
        self.towards = dict(towards)  # peer -> connection
        self.answering = set(answering)
        self.packets = {name: 0 for name in self.towards.values()}
        self.calls = []

    def ping(self, peer):
        self.calls.append(('ping', peer))
        if peer in self.answering:
            self.packets[self.towards[peer]] += 3
            return True
        return False

    def list_sas(self):
        self.calls.append(('list_sas',))
        return _ike_health.parse_list_sas(listing(*[
            ike_line(name, children=[child(name, 1, packets_in=count, packets_out=count)])
            for name, count in self.packets.items()]))


CONNECTIONS = [{'name': 'l2sec-a-1', 'peer': '10.0.1.2'}, {'name': 'l2sec-b-1', 'peer': '10.0.2.2'}]


def test_one_round_pings_every_peer_then_reads_the_sas_once():
    host = Host({'10.0.1.2': 'l2sec-a-1', '10.0.2.2': 'l2sec-b-1'}, answering=['10.0.1.2'])
    reports = _ike_health.check_once(CONNECTIONS, host.list_sas, host.ping)
    assert host.calls == [('ping', '10.0.1.2'), ('ping', '10.0.2.2'), ('list_sas',)]
    assert reports['l2sec-a-1'] == {'ike_sas': 1, 'ike_sas_established': 1, 'ike_state': 'ESTABLISHED', 'child_state': 'INSTALLED',
                                    'packets_in': 3, 'packets_out': 3, 'healthy': True, 'reasons': [],
                                    'peer': '10.0.1.2', 'replied': True}
    assert reports['l2sec-b-1']['healthy'] is False and reports['l2sec-b-1']['replied'] is False
    assert reports['l2sec-b-1']['reasons'] == [
        'no ESP packet went out on l2sec-b-1 after a ping to 10.0.2.2 (no reply)',
        'no ESP packet came in on l2sec-b-1 after a ping to 10.0.2.2 (no reply)']


def test_a_connection_without_a_peer_is_not_pinged():
    host = Host({'10.0.1.2': 'l2sec-a-1'})
    reports = _ike_health.check_once([{'name': 'l2sec-a-1', 'peer': None}], host.list_sas, host.ping)
    assert host.calls == [('list_sas',)]
    assert reports['l2sec-a-1']['replied'] is None and reports['l2sec-a-1']['peer'] is None


# ---------------------------------------------------------------------------------------------------------------
# health(): the wait loop

class Clock:
    """time.monotonic and time.sleep: sleeping moves the clock."""

    def __init__(self):
        self.now = 50.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Late(Host):
    """A host whose peers answer from a ping number on: `answers_from[peer]` (None: never)."""

    def __init__(self, towards, answers_from):
        super().__init__(towards)
        self.answers_from = answers_from
        self.pinged = {peer: 0 for peer in towards}

    def ping(self, peer):
        self.pinged[peer] += 1
        start = self.answers_from[peer]
        if start is not None and self.pinged[peer] >= start:
            self.answering.add(peer)
        return super().ping(peer)


def late_host(a, b):
    return Late({'10.0.1.2': 'l2sec-a-1', '10.0.2.2': 'l2sec-b-1'}, {'10.0.1.2': a, '10.0.2.2': b})


def test_wait_zero_checks_once():
    host, clock = late_host(1, None), Clock()
    result = _ike_health.health(CONNECTIONS, host.list_sas, host.ping, 0, clock, clock.sleep)
    assert host.calls.count(('list_sas',)) == 1 and clock.sleeps == []
    assert result['healthy'] is False and result['unhealthy'] == ['l2sec-b-1'] and result['waited'] == 0
    assert result['connections']['l2sec-a-1']['healthy'] is True


def test_the_wait_checks_again_every_second_only_what_is_not_healthy_yet():
    host, clock = late_host(1, 3), Clock()
    result = _ike_health.health(CONNECTIONS, host.list_sas, host.ping, 30, clock, clock.sleep)
    assert result == {'healthy': True, 'unhealthy': [], 'waited': 2.0, 'connections': result['connections']}
    assert clock.sleeps == [1, 1]
    # The connection healthy in the first round is not pinged again.
    assert [call for call in host.calls if call[0] == 'ping'] == [
        ('ping', '10.0.1.2'), ('ping', '10.0.2.2'), ('ping', '10.0.2.2'), ('ping', '10.0.2.2')]
    assert host.calls.count(('list_sas',)) == 3
    assert result['connections']['l2sec-b-1']['packets_in'] == 3


def test_the_wait_ends_at_its_deadline_naming_what_is_unhealthy():
    host, clock = late_host(None, None), Clock()
    result = _ike_health.health(list(reversed(CONNECTIONS)), host.list_sas, host.ping, 3, clock, clock.sleep)
    assert host.calls.count(('list_sas',)) == 4 and clock.sleeps == [1, 1, 1]
    assert result['healthy'] is False and result['unhealthy'] == ['l2sec-a-1', 'l2sec-b-1'] and result['waited'] == 3.0
    assert _ike_health.unhealthy_message(result) == (
        'IKE connections not protecting traffic: '
        'no ESP packet went out on l2sec-a-1 after a ping to 10.0.1.2 (no reply); '
        'no ESP packet came in on l2sec-a-1 after a ping to 10.0.1.2 (no reply); '
        'no ESP packet went out on l2sec-b-1 after a ping to 10.0.2.2 (no reply); '
        'no ESP packet came in on l2sec-b-1 after a ping to 10.0.2.2 (no reply)')


def test_no_connection_is_healthy_at_once():
    host, clock = late_host(None, None), Clock()
    result = _ike_health.health([], host.list_sas, host.ping, 30, clock, clock.sleep)
    assert result == {'healthy': True, 'unhealthy': [], 'connections': {}, 'waited': 0}
