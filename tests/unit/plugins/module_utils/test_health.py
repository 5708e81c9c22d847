# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Is a MACsec port protected (plugins/module_utils/_health.py): the options, wpa_supplicant's control socket (a
real datagram server answering a canned STATUS), the kernel checks on the fake kernel, the counters, the verdict
and the wait loop (a fake clock)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
import threading

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _health
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import FakeKernel

CKN = '6162636465666768696a6b6c6d6e6f707172737475767778797a303132333435'
MI = '3836fdb26100a5a4a385867e'
# What wpa_supplicant 2.10 answers STATUS with a pre-shared CAK, secured (Authenticated=No all the same).
STATUS_SECURED = """bssid=01:80:c2:00:00:03
freq=0
ssid=
id=0
mode=station
pairwise_cipher=NONE
group_cipher=NONE
key_mgmt=NONE
wpa_state=COMPLETED
address=52:54:00:15:01:01
PAE KaY status=Active
Authenticated=No
Secured=Yes
Failed=No
Actor Priority=10
Key Server Priority=10
Is Key Server=No
Number of Keys Distributed=1
Number of Keys Received=0
MKA Hello Time=2000
actor_sci=52:54:00:15:01:01@1
key_server_sci=52:54:00:15:01:01@1
participant_idx=0
ckn=%s
mi=%s
mn=11
active=Yes
participant=No
retain=No
live_peers=1
potential_peers=0
is_key_server=Yes
is_elected=Yes
uuid=6adaca51-9372-5075-ad70-c947b7d91ea9
""" % (CKN, MI)
STATUS_NOT_SECURED = STATUS_SECURED.replace('Secured=Yes', 'Secured=No').replace('live_peers=1', 'live_peers=0')
STATUS_WITHOUT_MKA = 'wpa_state=DISCONNECTED\naddress=52:54:00:15:01:01\nuuid=6adaca51\n'

MAC = '52:54:00:12:34:56'
PEER_SCI = '5254001234570001'
KEY_ID = '0a' * 16
PEER_KEY_ID = '0b' * 16


# ---------------------------------------------------------------------------------------------------------------
# The options

def test_normalize_ports_fills_in_the_defaults_and_checks_the_peers():
    assert _health.normalize_ports([
        {'name': 'macsec0', 'peers': ['10.0.1.2', 'FD00:1::2']},
        {'name': 'macsec1', 'daemon': 'wpa_supplicant', 'ctrl_path': '/run/l2sec-macsec/mka/eth2'},
    ]) == [
        {'name': 'macsec0', 'daemon': 'none', 'ctrl_path': None, 'peers': ['10.0.1.2', 'fd00:1::2']},
        {'name': 'macsec1', 'daemon': 'wpa_supplicant', 'ctrl_path': '/run/l2sec-macsec/mka/eth2', 'peers': []},
    ]


@pytest.mark.parametrize('ports, field, message', [
    ([], 'ports', 'name at least one macsec interface'),
    ([{'name': 'macsec:0'}], 'ports[0].name', 'must be a Linux interface name'),
    ([{'name': 'macsec0'}, {'name': 'macsec0'}], 'ports[1].name', 'macsec0 is given twice'),
    ([{'name': 'macsec0', 'daemon': 'wpa_supplicant'}], 'ports[0].ctrl_path', 'is needed with daemon wpa_supplicant'),
    ([{'name': 'macsec0', 'daemon': 'openmka'}], 'ports[0].daemon', 'must be one of none, wpa_supplicant, hostapd'),
    ([{'name': 'macsec0', 'peers': ['10.0.1.2', '10.0.1.3/24']}], 'ports[0].peers[1]', 'without a prefix length'),
    ([{'name': 'macsec0', 'peers': ['peer-b']}], 'ports[0].peers[0]', 'is not an IPv4 or IPv6 address'),
])
def test_normalize_ports_names_the_bad_field(ports, field, message):
    with pytest.raises(_health.PortError) as error:
        _health.normalize_ports(ports)
    assert error.value.field == field and message in str(error.value)


def test_ping_argv_binds_the_port_and_says_ipv6():
    assert _health.ping_argv('/bin/ping', 'macsec0', '10.0.1.2') == [
        '/bin/ping', '-c', '3', '-i', '0.2', '-W', '1', '-I', 'macsec0', '10.0.1.2']
    assert _health.ping_argv('/bin/ping', 'macsec0', 'fd00:1::2')[:2] == ['/bin/ping', '-6']


# ---------------------------------------------------------------------------------------------------------------
# STATUS: parsed without its secrets

def test_parse_status_drops_the_ckn_and_the_member_identifier():
    status = _health.parse_status(STATUS_SECURED)
    assert 'ckn' not in status and 'mi' not in status
    assert CKN not in json.dumps(status) and MI not in json.dumps(status)
    assert status['Secured'] == 'Yes' and status['PAE KaY status'] == 'Active' and status['ssid'] == ''


def test_parse_status_keeps_the_first_of_a_repeated_key():
    status = _health.parse_status(STATUS_SECURED + 'participant_idx=1\nlive_peers=7\nno equals sign here\n')
    assert status['live_peers'] == '1' and status['participant_idx'] == '0'


def test_mka_report_of_a_secured_pre_shared_cak():
    assert _health.mka_report(_health.parse_status(STATUS_SECURED)) == {
        'secured': True, 'authenticated': False, 'failed': False, 'kay_status': 'Active',
        'actor_priority': 10, 'key_server_priority': 10, 'is_key_server': False, 'participant_is_key_server': True,
        'keys_distributed': 1, 'keys_received': 0, 'actor_sci': '52:54:00:15:01:01@1',
        'key_server_sci': '52:54:00:15:01:01@1', 'live_peers': 1, 'potential_peers': 0, 'wpa_state': 'COMPLETED'}


def test_mka_report_without_mka_lines_is_all_none_but_wpa_state():
    report = _health.mka_report(_health.parse_status(STATUS_WITHOUT_MKA))
    assert report['secured'] is None and report['live_peers'] is None and report['wpa_state'] == 'DISCONNECTED'


# ---------------------------------------------------------------------------------------------------------------
# The control socket, against a real AF_UNIX datagram server

class StatusServer:
    """A stand-in for wpa_supplicant's control socket: answers each request with the datagrams of `answer`."""

    def __init__(self, path, answer):
        self.answer = answer
        self.requests = []
        self.stopped = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopped:
            try:
                request, address = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            self.requests.append((request, address))
            for datagram in self.answer:
                self.sock.sendto(datagram, address)

    def stop(self):
        self.stopped = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def short_dir():
    """A directory with a short path: an AF_UNIX path has at most 107 bytes, pytest's tmp_path can be longer."""
    path = tempfile.mkdtemp(prefix='l2t-')
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def wpa(short_dir):
    servers = []

    def start(answer):
        server = StatusServer(os.path.join(short_dir, 'eth1'), answer)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def client_root(short_dir):
    path = os.path.join(short_dir, 'client')
    os.mkdir(path)
    return path


def test_query_status_asks_status_and_cleans_up(wpa, client_root):
    server = wpa([STATUS_SECURED.encode()])
    assert _health.query_status(server.sock.getsockname(), tmp_root=client_root) == STATUS_SECURED
    request, address = server.requests[0]
    assert request == b'STATUS' and address.startswith(client_root + '/l2sec-mka-')
    assert os.listdir(client_root) == []  # the client's socket and its directory are gone


def test_query_status_skips_unsolicited_events(wpa, client_root):
    server = wpa([b'<3>CTRL-EVENT-EAP-STARTED', STATUS_SECURED.encode()])
    assert _health.query_status(server.sock.getsockname(), tmp_root=client_root) == STATUS_SECURED


def test_query_status_times_out_and_still_cleans_up(wpa, client_root):
    server = wpa([])
    with pytest.raises(_health.StatusError, match=r'no answer from .*/eth1 within 0.2 s'):
        _health.query_status(server.sock.getsockname(), timeout=0.2, tmp_root=client_root)
    assert os.listdir(client_root) == []


def test_query_status_of_a_refusal(wpa, client_root):
    server = wpa([b'FAIL\n'])
    with pytest.raises(_health.StatusError, match='refused STATUS'):
        _health.query_status(server.sock.getsockname(), tmp_root=client_root)


def test_query_status_without_a_socket_or_with_a_stale_one(short_dir, client_root):
    with pytest.raises(_health.StatusError, match='there is no control socket .*: is wpa_supplicant running'):
        _health.query_status(os.path.join(short_dir, 'eth9'), tmp_root=client_root)
    stale = os.path.join(short_dir, 'eth2')
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(stale)
    dead.close()  # the file stays, nobody listens: what a crashed daemon leaves
    with pytest.raises(_health.StatusError, match='nothing listens on .*stale socket'):
        _health.query_status(stale, tmp_root=client_root)
    assert os.listdir(client_root) == []


# ---------------------------------------------------------------------------------------------------------------
# The kernel side, on the fake kernel

class OperstateIpr:
    """The fake IPRoute, with the IFLA_OPERSTATE that pyroute2 decodes (the fake kernel has none)."""

    def __init__(self, ipr, operstates):
        self.ipr = ipr
        self.operstates = operstates

    def __getattr__(self, name):
        return getattr(self.ipr, name)

    def get_links(self, *indexes):
        links = self.ipr.get_links(*indexes)
        for link in links:
            link.attrs['IFLA_OPERSTATE'] = self.operstates.get(link.get_attr('IFLA_IFNAME'), 'UP')
        return links


@pytest.fixture
def kernel():
    fake = FakeKernel()
    fake.add_nic('eth1', MAC)
    fake.add_nic('eth2', '52:54:00:12:35:56')
    return fake


def add_secy(kernel, name='macsec0', parent='eth1', tx=True, tx_active=True, rx_sc=True, rx_active=True, up=True):
    """A SecY the way the kernel provider (or an MKA daemon) leaves it: TX SA 0, one peer with RX SA 0."""
    kernel.ipr.link('add', ifname=name, kind='macsec', link=kernel.index_of(parent), IFLA_MACSEC_ENCRYPT=1)
    index = kernel.index_of(name)
    if tx:
        kernel.genl.add_txsa(index, 0, 1, '1a' * 16, KEY_ID, active=tx_active)
    if rx_sc:
        kernel.genl.add_rxsc(index, PEER_SCI)
        kernel.genl.add_rxsa(index, PEER_SCI, 0, 1, '1b' * 16, PEER_KEY_ID, active=rx_active)
    if up:
        kernel.ipr.link('set', index=index, state='up')
    return index


def set_counters(kernel, name, tx=0, ok=0, **rx):
    """Set the TX SC and first RX SC counters of a SecY (kernel names, lowercased)."""
    secy = kernel.secy_of(name)
    secy['txsc_stats'] = {'out_pkts_protected': 0, 'out_pkts_encrypted': tx}
    secy['rx_scs'][0]['stats'] = dict({'in_pkts_ok': ok}, **rx)


def grow_counters(kernel, name, tx=3, ok=3, **rx):
    secy = kernel.secy_of(name)
    secy['txsc_stats']['out_pkts_encrypted'] += tx
    stats = secy['rx_scs'][0]['stats']
    stats['in_pkts_ok'] = stats.get('in_pkts_ok', 0) + ok
    for counter, grown in rx.items():
        stats[counter] = stats.get(counter, 0) + grown


def reasons_of(kernel, name='macsec0', ipr=None):
    reading = _health.read_ports(ipr or kernel.ipr, kernel.genl, [name])[name]
    return _health.kernel_reasons(name, reading)


def test_read_ports_dumps_the_secys_once_for_all_ports(kernel):
    add_secy(kernel, 'macsec0', 'eth1')
    add_secy(kernel, 'macsec1', 'eth2')
    readings = _health.read_ports(kernel.ipr, kernel.genl, ['macsec0', 'macsec1', 'macsec9'])
    assert [name for name, args in kernel.calls if name == 'dump'] == ['dump']
    assert readings['macsec0']['secy']['tx_sas'][0]['keyid'] == KEY_ID
    assert readings['macsec9'] == {'secy': None, 'error': None, 'operstate': None}


def test_a_complete_secy_has_no_kernel_reason(kernel):
    add_secy(kernel)
    assert reasons_of(kernel) == []
    assert reasons_of(kernel, ipr=OperstateIpr(kernel.ipr, {})) == []


@pytest.mark.parametrize('setup, reasons', [
    ({'tx': False}, ['macsec0 has no TX SA on its encoding SA (AN 0): it sends nothing protected']),
    ({'tx_active': False}, ['the TX SA of macsec0 on its encoding SA (AN 0) is not active']),
    ({'rx_sc': False}, ['macsec0 has no RX SC: it accepts frames from no peer']),
    ({'rx_active': False}, ['macsec0 has no active RX SC with an active RX SA: it accepts frames from no peer']),
    ({'up': False}, ['macsec0 is down (with MKA: the daemon has not opened its controlled port)']),
])
def test_each_missing_piece_is_a_reason(kernel, setup, reasons):
    add_secy(kernel, **setup)
    assert reasons_of(kernel) == reasons


def test_an_inactive_rx_sc_is_a_reason(kernel):
    index = add_secy(kernel)
    kernel.genl.update_rxsc(index, PEER_SCI, active=False)
    assert reasons_of(kernel) == ['macsec0 has no active RX SC with an active RX SA: it accepts frames from no peer']


def test_a_secy_the_kernel_calls_not_operational_is_a_reason(kernel):
    add_secy(kernel)
    kernel.secy_of('macsec0')['secy']['oper'] = False
    assert reasons_of(kernel) == ['the kernel says the SecY of macsec0 is not operational']


def test_a_link_without_carrier_is_a_reason(kernel):
    add_secy(kernel)
    ipr = OperstateIpr(kernel.ipr, {'macsec0': 'LOWERLAYERDOWN'})
    assert reasons_of(kernel, ipr=ipr) == ['macsec0 is up but its link is lowerlayerdown (has its parent a carrier?)']


def test_a_missing_or_foreign_interface_is_a_reason(kernel):
    assert reasons_of(kernel, 'macsec0') == ['there is no interface macsec0 on this host']
    assert reasons_of(kernel, 'eth1') == ['eth1: eth1 exists and is a physical interface, not macsec: choose another '
                                          'macsec_ifname, or remove it']


# ---------------------------------------------------------------------------------------------------------------
# Counters

def secy_with_stats(txsc=None, tx_sas=(), rx_scs=(), secy_stats=None):
    return {'stats': {'txsc': txsc or {}, 'secy': secy_stats or {}}, 'tx_sas': list(tx_sas), 'rx_scs': list(rx_scs)}


def test_counter_sample_prefers_the_sc_counters_and_sums_the_sas_otherwise():
    secy = secy_with_stats(
        txsc={'out_pkts_protected': 2, 'out_pkts_encrypted': 5},
        tx_sas=[{'stats': {'out_pkts_encrypted': 1}}],
        rx_scs=[{'stats': {'in_pkts_ok': 7, 'in_pkts_late': 1}, 'sas': [{'stats': {'in_pkts_ok': 99}}]},
                {'stats': {}, 'sas': [{'stats': {'in_pkts_ok': 3, 'in_pkts_not_valid': 2}},
                                      {'stats': {'in_pkts_ok': 1}}]}],
        secy_stats={'in_pkts_unknown_sci': 4, 'in_pkts_no_sci': 1})
    assert _health.counter_sample(secy) == {
        'tx_protected': 7, 'rx_ok': 11, 'rx_not_valid': 2, 'rx_invalid': 0, 'rx_no_sa': 0, 'rx_not_using_sa': 0,
        'rx_late': 1, 'rx_unknown_sci': 5}
    secy['stats']['txsc'] = {}
    assert _health.counter_sample(secy)['tx_protected'] == 1


def sample(**values):
    return dict(dict.fromkeys(_health.COUNTERS, 0), **values)


def test_counter_report_gives_totals_and_growth_never_below_zero():
    report = _health.counter_report(sample(tx_protected=10, rx_ok=50), sample(tx_protected=13, rx_ok=2), True)
    assert report['probed'] is True
    assert (report['tx_protected'], report['tx_protected_delta']) == (13, 3)
    assert (report['rx_ok'], report['rx_ok_delta']) == (2, 0)  # the RX SC was recreated in between


def counters(probed=True, **deltas):
    report = _health.counter_report(sample(), sample(), probed)
    report.update(deltas)
    return report


def test_counters_that_move_and_no_errors_are_no_reason():
    assert _health.counter_reasons('macsec0', counters(tx_protected_delta=3, rx_ok_delta=3), []) == []


def test_counters_need_not_move_without_a_probe():
    assert _health.counter_reasons('macsec0', counters(probed=False), None) == []
    assert _health.counter_reasons('macsec0', None, None) == []


def test_counters_that_do_not_move_under_a_probe_are_reasons():
    reasons = _health.counter_reasons('macsec0', counters(rx_late_delta=3),
                                      [{'address': '10.0.1.2', 'replied': False}])
    assert reasons == [
        'macsec0 sent no protected frame during the probe (OutPktsProtected and OutPktsEncrypted did not grow)',
        'macsec0 received no valid frame from its peers during the probe (InPktsOK did not grow; no ping reply from '
        '10.0.1.2; 3 frames were too late (InPktsLate: replayed, or below the replay window))']


@pytest.mark.parametrize('delta, text', [
    ('rx_not_valid_delta', 'macsec0: 2 frames failed validation during the probe and were dropped (InPktsNotValid)'),
    ('rx_invalid_delta', 'macsec0: 2 frames failed validation during the probe and were delivered all the same'),
    ('rx_no_sa_delta', 'macsec0: 2 frames arrived during the probe for an AN without an active RX SA (InPktsUnusedSA)'),
    ('rx_not_using_sa_delta', 'macsec0: 2 frames arrived during the probe for an AN without an active RX SA and were '
                              'dropped (InPktsNotUsingSA)'),
])
def test_growing_error_counters_are_reasons_even_when_frames_pass(delta, text):
    reasons = _health.counter_reasons('macsec0', counters(tx_protected_delta=3, rx_ok_delta=3, **{delta: 2}), [])
    assert len(reasons) == 1 and reasons[0].startswith(text)


# ---------------------------------------------------------------------------------------------------------------
# MKA

def mka_of(text):
    return _health.mka_report(_health.parse_status(text))


def test_secured_is_healthy_even_when_not_authenticated():
    assert _health.mka_reasons('macsec0', 'wpa_supplicant', mka_of(STATUS_SECURED), None) == []


def test_mka_reasons():
    assert _health.mka_reasons('macsec0', 'wpa_supplicant', mka_of(STATUS_NOT_SECURED), None) == [
        'MKA on macsec0 is not secured (KaY Active, live peers 0): no live MKA peer (are the CAK and CKN the same on '
        'both ends, and is the peer\'s daemon running?)']
    assert _health.mka_reasons('macsec0', 'wpa_supplicant', mka_of(STATUS_WITHOUT_MKA), None) == [
        'wpa_supplicant reports no MKA state for macsec0: is it running with the macsec_linux driver and '
        'macsec_policy=1?']
    assert _health.mka_reasons('macsec0', 'wpa_supplicant', None, 'there is no control socket /x') == [
        'cannot read the MKA status of macsec0: there is no control socket /x']


def test_hostapd_and_static_keys_have_no_mka_reason():
    assert _health.mka_reasons('macsec0', 'hostapd', None, None) == []
    assert _health.mka_reasons('macsec0', 'none', None, None) == []


# ---------------------------------------------------------------------------------------------------------------
# One check, and the wait

PORT = {'name': 'macsec0', 'daemon': 'none', 'ctrl_path': None, 'peers': ['10.0.1.2']}


class Pinger:
    """ping(name, address): records the pings and grows the counters as the peer's answers would."""

    def __init__(self, kernel, replied=True, **growth):
        self.kernel = kernel
        self.replied = replied
        self.growth = growth
        self.pings = []

    def __call__(self, name, address):
        self.pings.append((name, address))
        grow_counters(self.kernel, name, **self.growth)
        return self.replied


def no_status(ctrl_path):
    raise AssertionError('no status was asked for: %s' % ctrl_path)


def host_of(kernel, ping, status=no_status):
    return _health.Host(read=lambda names: _health.read_ports(kernel.ipr, kernel.genl, names), ping=ping,
                        status=status)


def dumps(kernel):
    return len([name for name, args in kernel.calls if name == 'dump'])


def test_check_once_pings_between_two_readings_and_counts_the_growth(kernel):
    add_secy(kernel)
    set_counters(kernel, 'macsec0', tx=100, ok=90)
    pinger = Pinger(kernel)
    report = _health.check_once([PORT], host_of(kernel, pinger))['macsec0']
    assert pinger.pings == [('macsec0', '10.0.1.2')] and dumps(kernel) == 2
    assert report['healthy'] is True and report['reasons'] == []
    assert report['counters']['tx_protected'] == 103 and report['counters']['tx_protected_delta'] == 3
    assert report['counters']['rx_ok_delta'] == 3 and report['counters']['probed'] is True
    assert report['pings'] == [{'address': '10.0.1.2', 'replied': True}]
    assert report['tx_sa'] == {'an': 0, 'key_id': KEY_ID, 'pn': 1, 'active': True}
    assert report['rx'] == [{'sci': PEER_SCI, 'active': True, 'sas': [{'an': 0, 'key_id': PEER_KEY_ID, 'active': True}]}]
    assert (report['up'], report['encoding_sa'], report['mka']) == (True, 0, None)
    assert kernel.modifying_calls()[-1][0] == 'link set'  # only add_secy's: the check changed nothing
    assert len(kernel.modifying_calls()) == 5


def test_check_once_reports_the_secys_settings_and_the_time_between_its_samples(kernel):
    add_secy(kernel)
    set_counters(kernel, 'macsec0', tx=100, ok=90)
    ticks = iter([100.0, 102.5])
    report = _health.check_once([PORT], host_of(kernel, Pinger(kernel)), clock=lambda: next(ticks))['macsec0']
    assert report['counters']['seconds'] == 2.5
    assert report['link']['cipher'] == 'gcm-aes-128' and report['link']['encrypt'] is True
    assert report['link']['validate'] == 'strict' and set(report['link']) == set(_health.SHOWN_LINK_OPTIONS)
    unprobed = _health.check_once([PORT], host_of(kernel, Pinger(kernel)), probe=False)['macsec0']
    assert unprobed['counters']['seconds'] is None


def test_check_once_of_a_link_that_carries_nothing(kernel):
    add_secy(kernel)
    set_counters(kernel, 'macsec0')
    report = _health.check_once([PORT], host_of(kernel, Pinger(kernel, replied=False, tx=3, ok=0)))['macsec0']
    assert report['healthy'] is False
    assert report['reasons'] == ['macsec0 received no valid frame from its peers during the probe (InPktsOK did not '
                                 'grow; no ping reply from 10.0.1.2)']


def test_check_once_flags_frames_that_fail_validation_under_the_probe(kernel):
    add_secy(kernel)
    set_counters(kernel, 'macsec0')
    report = _health.check_once([PORT], host_of(kernel, Pinger(kernel, in_pkts_not_valid=3)))['macsec0']
    assert report['reasons'][0].startswith('macsec0: 3 frames failed validation during the probe')
    assert report['counters']['rx_not_valid_delta'] == 3


def test_check_once_without_probe_or_peers_reads_once_and_pings_nobody(kernel):
    add_secy(kernel)
    pinger = Pinger(kernel)
    report = _health.check_once([PORT], host_of(kernel, pinger), probe=False)['macsec0']
    assert pinger.pings == [] and dumps(kernel) == 1
    assert report['healthy'] is True and report['counters']['probed'] is False and report['pings'] is None
    report = _health.check_once([dict(PORT, peers=[])], host_of(kernel, pinger))['macsec0']
    assert pinger.pings == [] and report['healthy'] is True


def test_check_once_does_not_ping_through_a_missing_port(kernel):
    pinger = Pinger(kernel)
    report = _health.check_once([PORT], host_of(kernel, pinger))['macsec0']
    assert pinger.pings == [] and report['counters'] is None and report['tx_sa'] is None and report['rx'] == []
    assert report['reasons'] == ['there is no interface macsec0 on this host']


def test_check_once_asks_wpa_supplicant_and_returns_no_secret(kernel):
    add_secy(kernel)
    asked = []

    def status(ctrl_path):
        asked.append(ctrl_path)
        return STATUS_SECURED

    port = dict(PORT, daemon='wpa_supplicant', ctrl_path='/run/l2sec-macsec/mka/eth1', peers=[])
    report = _health.check_once([port], host_of(kernel, Pinger(kernel), status))['macsec0']
    assert asked == ['/run/l2sec-macsec/mka/eth1']
    assert report['healthy'] is True and report['mka']['secured'] is True and report['mka']['authenticated'] is False
    text = json.dumps(report)
    assert CKN not in text and MI not in text and 'ckn' not in text
    assert CKN not in json.dumps(_health.check_once([port], host_of(kernel, Pinger(kernel),
                                                                    lambda path: STATUS_NOT_SECURED)))


def test_check_once_of_a_daemon_that_does_not_answer(kernel):
    add_secy(kernel)

    def status(ctrl_path):
        raise _health.StatusError('no answer from %s within 3 s: wpa_supplicant is busy or hung' % ctrl_path)

    port = dict(PORT, daemon='wpa_supplicant', ctrl_path='/run/mka/eth1', peers=[])
    report = _health.check_once([port], host_of(kernel, Pinger(kernel), status))['macsec0']
    assert report['mka'] is None
    assert report['reasons'] == ['cannot read the MKA status of macsec0: no answer from /run/mka/eth1 within 3 s: '
                                 'wpa_supplicant is busy or hung']


def test_hostapd_ports_are_judged_by_the_kernel_alone(kernel):
    add_secy(kernel)
    report = _health.check_once([dict(PORT, daemon='hostapd', peers=[])], host_of(kernel, Pinger(kernel)))['macsec0']
    assert report['healthy'] is True and report['mka'] is None


class Clock:
    """time.monotonic and time.sleep: sleeping moves the clock, and so does each check by `check_takes`."""

    def __init__(self, check_takes=0.1):
        self.now = 100.0
        self.check_takes = check_takes
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def checker(clock, healthy_from):
    """check(ports): each port turns healthy at its check number in `healthy_from` (None: never)."""
    checked = []

    def check(ports):
        checked.append([port['name'] for port in ports])
        clock.now += clock.check_takes
        return {port['name']: {'healthy': healthy_from[port['name']] is not None
                               and len(checked) >= healthy_from[port['name']], 'reasons': []} for port in ports}
    return check, checked


PORTS = [{'name': 'macsec0'}, {'name': 'macsec1'}]


def test_wait_zero_checks_once():
    clock = Clock()
    check, checked = checker(clock, {'macsec0': None, 'macsec1': 1})
    reports, waited = _health.wait_for_health(PORTS, check, 0, clock, clock.sleep)
    assert checked == [['macsec0', 'macsec1']] and waited == 0 and reports['macsec0']['healthy'] is False


def test_the_wait_checks_the_unhealthy_ports_again_every_second_until_healthy():
    clock = Clock()
    check, checked = checker(clock, {'macsec0': 3, 'macsec1': 1})
    reports, waited = _health.wait_for_health(PORTS, check, 30, clock, clock.sleep)
    assert checked == [['macsec0', 'macsec1'], ['macsec0'], ['macsec0']]
    assert clock.sleeps == [0.9, 0.9] and waited == 2.0
    assert reports['macsec0']['healthy'] is True and reports['macsec1']['healthy'] is True


def test_the_wait_ends_at_its_deadline():
    clock = Clock(check_takes=1.5)  # checks with pings take longer than the interval: the next follows at once
    check, checked = checker(clock, {'macsec0': None, 'macsec1': None})
    reports, waited = _health.wait_for_health(PORTS, check, 4, clock, clock.sleep)
    assert len(checked) == 3 and clock.sleeps == [] and waited == 3.0
    assert not reports['macsec0']['healthy']


def test_the_wait_takes_a_last_look_at_the_deadline():
    clock = Clock()
    check, checked = checker(clock, {'macsec0': 2, 'macsec1': 2})
    reports, waited = _health.wait_for_health(PORTS, check, 0.5, clock, clock.sleep)
    assert len(checked) == 2 and clock.sleeps == [0.4] and waited == 0.5 and reports['macsec0']['healthy']


def test_health_waits_for_mka_to_secure_the_port(kernel):
    add_secy(kernel)
    clock = Clock()
    answers = [STATUS_NOT_SECURED, STATUS_NOT_SECURED, STATUS_SECURED]
    port = dict(PORT, daemon='wpa_supplicant', ctrl_path='/run/mka/eth1', peers=[])
    result = _health.health([port], host_of(kernel, Pinger(kernel), lambda path: answers.pop(0)), wait=10,
                            clock=clock, sleep=clock.sleep)
    assert result['healthy'] is True and result['unhealthy'] == [] and result['waited'] == 2.0
    assert answers == []


def test_health_reports_and_names_the_unhealthy_ports(kernel):
    add_secy(kernel, 'macsec0', 'eth1')
    add_secy(kernel, 'macsec1', 'eth2', tx_active=False)
    ports = [dict(PORT, peers=[]), dict(PORT, name='macsec1', peers=[]), dict(PORT, name='macsec2', peers=[])]
    result = _health.health(ports, host_of(kernel, Pinger(kernel)))
    assert list(result['ports']) == ['macsec0', 'macsec1', 'macsec2']
    assert result['healthy'] is False and result['unhealthy'] == ['macsec1', 'macsec2'] and result['waited'] == 0
    assert _health.unhealthy_message(result) == (
        'MACsec is not healthy on macsec1, macsec2: the TX SA of macsec1 on its encoding SA (AN 0) is not active; '
        'there is no interface macsec2 on this host')


def test_a_netlink_failure_is_not_swallowed(kernel):
    kernel.failures['dump'] = nl.MacsecError(19, 'the kernel has no macsec support (modprobe macsec)')
    with pytest.raises(nl.MacsecError):
        _health.health([PORT], host_of(kernel, Pinger(kernel)))
