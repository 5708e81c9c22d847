# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Commit-confirmed changes of a SecY (plugins/module_utils/_confirm.py): the change keeps the previous SAs beside
the new ones, the pending file holds what a rollback needs (no previous key), the probe counts protected frames per
peer, and commit or rollback end the change on the fake kernel with systemd-run and systemctl recorded."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import FakeKernel, FakeSystemd

KEY_A = '1a' * 16  # this end, generation 1
KEY_A2 = '2a' * 16  # this end, generation 2
KEY_B = '1b' * 16  # the peer, generation 1
KEY_B2 = '2b' * 16
KEY_C = '1c' * 16  # a second peer
PEER_SCI = '5254001234570001'
PEER2_SCI = '5254001234580001'
ALL_KEYS = (KEY_A, KEY_A2, KEY_B, KEY_B2, KEY_C)


def key_id_of(key_hex):
    return hashlib.sha256(b'confirm test\x00' + bytes.fromhex(key_hex)).hexdigest()[:32]


def spec_of(an=0, tx_key=KEY_A, rx_key=KEY_B, **overrides):
    """A point-to-point SecY whose generation uses AN `an` on both sides (as the topology's generation picks it)."""
    params = {'name': 'macsec0', 'parent': 'eth1', 'tx_sas': [{'an': an, 'key': tx_key}],
              'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': an, 'key': rx_key}]}], 'addresses': ['10.0.1.1/24']}
    params.update(overrides)
    return _secy.normalize_spec(params, key_id_of)


GENERATION_1 = dict(an=0, tx_key=KEY_A, rx_key=KEY_B)
GENERATION_2 = dict(an=1, tx_key=KEY_A2, rx_key=KEY_B2)


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    fake.add_nic('eth1', '52:54:00:12:34:56')
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    return fake


@pytest.fixture
def systemd():
    return FakeSystemd()


@pytest.fixture
def dirs(tmp_path):
    return {'pending': str(tmp_path / 'run' / 'pending'), 'state': str(tmp_path / 'etc' / 'kernel')}


def converge(kernel, spec):
    return _secy.converge(spec, kernel.ipr, kernel.genl)


def read(kernel, name='macsec0'):
    return _secy.read_state(kernel.ipr, kernel.genl, name)


def sas_of(kernel):
    """{None: TX ANs, sci: RX ANs} and the encoding SA of the fake kernel's macsec0."""
    secy = kernel.secy_of('macsec0')
    found = {None: [sa['an'] for sa in secy['tx_sas']]}
    found.update({sc['sci']: [sa['an'] for sa in sc['sas']] for sc in secy['rx_scs']})
    return found, secy['secy']['encoding_sa']


def kept(an, key):
    return {'an': an, 'key': None, 'key_id': key_id_of(key), 'pn': 1, 'active': True}


# ---------------------------------------------------------------------------------------------------------------
# keep_previous()

def test_keep_previous_adds_the_installed_sas_without_keys_beside_the_new_ones(kernel):
    converge(kernel, spec_of(**GENERATION_1))
    new = spec_of(**GENERATION_2)
    applied = _confirm.keep_previous(new, read(kernel))
    assert applied['tx_sas'] == {0: kept(0, KEY_A), 1: new['tx_sas'][1]}
    assert applied['rx_scs'][PEER_SCI]['sas'] == {0: kept(0, KEY_B), 1: new['rx_scs'][PEER_SCI]['sas'][1]}
    assert applied['link']['encoding_sa'] == 1  # the new key sends
    assert sorted(new['tx_sas']) == [1]  # the spec given is left as it was


def test_keep_previous_then_converge_installs_no_key_again(kernel):
    converge(kernel, spec_of(**GENERATION_1))
    kernel.calls.clear()
    converge(kernel, _confirm.keep_previous(spec_of(**GENERATION_2), read(kernel)))
    added = [(name, args['an']) for name, args in kernel.modifying_calls() if name.startswith('add_')]
    assert added == [('add_rxsa', 1), ('add_txsa', 1)]
    assert sas_of(kernel) == ({None: [0, 1], PEER_SCI: [0, 1]}, 1)


@pytest.mark.parametrize('changed, label', [
    (dict(GENERATION_1, tx_key=KEY_A2), 'TX SA AN 0'),
    (dict(GENERATION_1, rx_key=KEY_B2), 'RX SA of %s AN 0' % PEER_SCI),
])
def test_keep_previous_refuses_another_key_on_an_an_in_use(kernel, changed, label):
    converge(kernel, spec_of(**GENERATION_1))
    with pytest.raises(_confirm.ConfirmError) as error:
        _confirm.keep_previous(spec_of(**changed), read(kernel))
    assert str(error.value).startswith('macsec0: %s would get another key' % label)
    assert not any(key in str(error.value) for key in ALL_KEYS)


def test_keep_previous_leaves_a_new_secy_and_an_mka_spec_alone(kernel):
    new = spec_of(**GENERATION_2)
    assert _confirm.keep_previous(new, None) is new
    converge(kernel, spec_of(**GENERATION_1))
    mka = _secy.normalize_spec({'name': 'macsec0', 'parent': 'eth1', 'mka': True}, key_id_of)
    assert _confirm.keep_previous(mka, read(kernel)) is mka


def test_keep_previous_keeps_an_rx_sc_only_the_current_state_has(kernel):
    converge(kernel, spec_of(rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}]},
                                     {'sci': PEER2_SCI, 'sas': [{'an': 0, 'key': KEY_C}]}]))
    applied = _confirm.keep_previous(spec_of(**GENERATION_2), read(kernel))
    assert applied['rx_scs'][PEER2_SCI] == {'sci': PEER2_SCI, 'active': True, 'sas': {0: kept(0, KEY_C)}}


def test_keep_previous_keeps_nothing_of_a_link_that_is_made_again(kernel):
    # The kernel cannot change the ICV length in place: the old link goes, and its SAs cannot be installed on the
    # new one without their keys.
    converge(kernel, spec_of(**GENERATION_1))
    new = spec_of(icv_len=12, **GENERATION_2)
    assert _confirm.keep_previous(new, read(kernel)) == new


# ---------------------------------------------------------------------------------------------------------------
# previous_record() and restore_spec()

def changed_state(kernel, new):
    """Apply `new` with the previous SAs kept; returns (the JSON round trip of previous_record, state after)."""
    before = read(kernel)
    record = json.loads(json.dumps(_confirm.previous_record(before)))
    converge(kernel, _confirm.keep_previous(new, before))
    return record, read(kernel)


def test_previous_record_of_a_secy_that_did_not_exist_is_none():
    assert _confirm.previous_record(None) is None


def test_restore_spec_after_json_gives_the_previous_sas_with_int_ans(kernel):
    converge(kernel, spec_of(**GENERATION_1))
    new = spec_of(addresses=['10.0.2.1/24'], encrypt=False, **GENERATION_2)
    record, state = changed_state(kernel, new)
    assert not any(key in json.dumps(record) for key in ALL_KEYS)
    assert record['tx_sas'] == {'0': {'key_id': key_id_of(KEY_A), 'active': True, 'ssci': None}}
    target = _confirm.restore_spec(new, record, state)
    assert target['tx_sas'] == {0: kept(0, KEY_A)}
    assert target['rx_scs'] == {PEER_SCI: {'sci': PEER_SCI, 'active': True, 'sas': {0: kept(0, KEY_B)}}}
    assert target['link']['encoding_sa'] == 0 and target['link']['encrypt'] is True
    assert target['addresses'] == ['10.0.1.1/24']
    # ... and converging to it takes the kernel back without installing a key.
    kernel.calls.clear()
    converge(kernel, target)
    assert not [name for name, dummy in kernel.modifying_calls() if name.startswith('add_')]
    assert sas_of(kernel) == ({None: [0], PEER_SCI: [0]}, 0)
    assert kernel.secy_of('macsec0')['secy']['encrypt'] is True
    assert kernel.links[kernel.index_of('macsec0')]['addresses'] == [('10.0.1.1', 24, 0)]


@pytest.mark.parametrize('option, value', [('cipher', 'gcm-aes-256'), ('port', 2), ('icv_len', 12)])
def test_restore_spec_is_none_when_the_link_was_made_again(kernel, option, value):
    converge(kernel, spec_of(**GENERATION_1))
    new = spec_of(**GENERATION_2)
    record, state = changed_state(kernel, new)
    state['link'][option] = value
    assert _confirm.restore_spec(new, record, state) is None


@pytest.mark.parametrize('remove', ['tx', 'rx'])
def test_restore_spec_is_none_when_a_previous_sa_is_gone(kernel, remove):
    converge(kernel, spec_of(**GENERATION_1))
    new = spec_of(**GENERATION_2)
    record, state = changed_state(kernel, new)
    assert _confirm.restore_spec(new, record, state) is not None
    if remove == 'tx':
        del state['tx_sas'][0]
    else:
        del state['rx_scs'][PEER_SCI]['sas'][0]
    assert _confirm.restore_spec(new, record, state) is None


def test_restore_spec_is_none_when_the_secy_is_gone(kernel):
    converge(kernel, spec_of(**GENERATION_1))
    new = spec_of(**GENERATION_2)
    record, dummy = changed_state(kernel, new)
    assert _confirm.restore_spec(new, record, None) is None


# ---------------------------------------------------------------------------------------------------------------
# probe(): two SecYs back to back, with a clock that only sleep() moves

MACS = {'ms-a': '52:54:00:00:00:0a', 'ms-b': '52:54:00:00:00:0b'}
SCIS = {'ms-a': '5254000000000a01', 'ms-b': '5254000000000b01'}
OTHER = {'ms-a': 'ms-b', 'ms-b': 'ms-a'}


class Wire:
    """ms-a and ms-b hear each other: a probe sent through one is counted (InPktsOK) by the other's RX SA of the
    new generation (AN 1), while `delivering`. Both still have the previous RX SA (AN 0) active."""

    def __init__(self):
        self.now = 100.0
        self.delivering = True
        self.gone = set()
        self.sent = []
        self.reads = []
        self.in_pkts_ok = {name: {0: 50, 1: 0} for name in MACS}

    def read(self, name):
        self.reads.append(name)
        if name in self.gone:
            return None, None
        sas = {an: {'an': an, 'active': True, 'stats': {'in_pkts_ok': count}}
               for an, count in self.in_pkts_ok[name].items()}
        return {'rx_scs': {SCIS[OTHER[name]]: {'active': True, 'sas': sas}}}, MACS[name]

    def send(self, name, mac):
        self.sent.append((self.now, name, mac))
        if self.delivering:
            self.in_pkts_ok[OTHER[name]][1] += 1

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds == _confirm.PROBE_INTERVAL
        self.now += seconds

    def probe(self, names, pending, timeout=10, linger=2):
        return _confirm.probe(names, self.read, pending, timeout, linger=linger, send=self.send, clock=self.clock,
                              sleep=self.sleep)


def armed(name, an=1, count=0):
    """A pending change as arm() keeps it: the RX SA that must receive and its InPktsOK before the change."""
    return {'baseline': {SCIS[OTHER[name]]: [an, count]}}


def test_probe_is_ok_once_each_new_rx_sa_counted_frames_then_lingers():
    wire = Wire()
    results = wire.probe(['ms-a', 'ms-b'], {name: armed(name) for name in MACS}, linger=2)
    # Both heard each other at 100.5 (ms-a reads before ms-b first sends); each kept sending for the linger.
    assert wire.now == 102.5
    # Six rounds: ms-a read five of ms-b's probes, ms-b all six of ms-a's.
    assert results['ms-a'] == {'pending': True, 'interface': True, 'ok': True,
                               'peers': {SCIS['ms-b']: {'an': 1, 'received': 5, 'ok': True}}}
    assert results['ms-b']['peers'] == {SCIS['ms-a']: {'an': 1, 'received': 6, 'ok': True}}
    assert [(at, name) for at, name, dummy in wire.sent][-2:] == [(102.5, 'ms-a'), (102.5, 'ms-b')]
    assert ('ms-a', MACS['ms-a']) in [(name, mac) for dummy, name, mac in wire.sent]


def test_probe_is_not_ok_after_the_timeout_when_nothing_arrives():
    wire = Wire()
    wire.delivering = False
    results = wire.probe(['ms-a', 'ms-b'], {name: armed(name) for name in MACS}, timeout=3)
    assert wire.now == 103.0
    assert results['ms-a'] == {'pending': True, 'interface': True, 'ok': False,
                               'peers': {SCIS['ms-b']: {'an': 1, 'received': 0, 'ok': False}}}
    assert len(wire.sent) == 2 * 7  # every half second, both ends, until the deadline


def test_probe_counts_from_the_baseline_of_the_arm_not_from_a_fresh_read():
    # The peer's frames that arrived after the change and before this probe count: its probe may have started
    # first. A fresh read now would count from 5 and hear nothing.
    wire = Wire()
    wire.delivering = False
    wire.in_pkts_ok['ms-a'][1] = 5
    results = wire.probe(['ms-a'], {'ms-a': armed('ms-a')}, timeout=0, linger=0)
    assert results['ms-a']['ok'] is True and results['ms-a']['peers'][SCIS['ms-b']]['received'] == 5
    results = wire.probe(['ms-a'], {}, timeout=0, linger=0)
    assert results['ms-a']['pending'] is False and results['ms-a']['ok'] is False
    assert results['ms-a']['peers'] == {SCIS['ms-b']: {'an': 1, 'received': 0, 'ok': False}}


def test_probe_of_a_missing_secy_says_so_and_sends_nothing_through_it():
    wire = Wire()
    wire.gone.add('ms-a')
    results = wire.probe(['ms-a', 'ms-b'], {}, timeout=1)
    assert results['ms-a'] == {'pending': False, 'interface': False, 'ok': False, 'peers': {}}
    assert results['ms-b']['ok'] is False and {sent[1] for sent in wire.sent} == {'ms-b'}
    # Pending and gone (rolled back, or removed): its peers are listed as not heard.
    results = wire.probe(['ms-a'], {'ms-a': armed('ms-a')}, timeout=0)
    assert results['ms-a']['interface'] is False and results['ms-a']['ok'] is False
    assert results['ms-a']['peers'] == {SCIS['ms-b']: {'an': 1, 'received': None, 'ok': False}}


def test_probe_without_the_expected_rx_sa_reports_received_none():
    wire = Wire()
    del wire.in_pkts_ok['ms-a'][1]
    results = wire.probe(['ms-a'], {'ms-a': armed('ms-a')}, timeout=0)
    assert results['ms-a']['peers'][SCIS['ms-b']] == {'an': 1, 'received': None, 'ok': False}


def test_baseline_counts_a_new_rx_sa_from_zero_and_an_installed_one_from_its_counter(kernel):
    converge(kernel, spec_of(**GENERATION_1))
    kernel.secy_of('macsec0')['rx_scs'][0]['sas'][0]['stats'] = {'in_pkts_ok': 42}
    current = read(kernel)
    assert _confirm.baseline(spec_of(**GENERATION_2), current) == {PEER_SCI: [1, 0]}
    assert _confirm.baseline(spec_of(**GENERATION_1), current) == {PEER_SCI: [0, 42]}
    assert _confirm.baseline(spec_of(**GENERATION_2), None) == {PEER_SCI: [1, 0]}


def test_expected_rx_prefers_the_an_of_the_encoding_sa():
    # Generation 5 wraps to AN 0 while AN 3 (generation 4) is still active: the new one is AN 0, not the highest.
    spec = spec_of(tx_sas=[{'an': 0, 'key': KEY_A2}],
                   rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B2}, {'an': 3, 'key': KEY_B}]}])
    assert _confirm._expected_rx(spec, None) == {PEER_SCI: 0}


# ---------------------------------------------------------------------------------------------------------------
# arm(), then commit() or rollback(), on the fake kernel

def arm_change(kernel, dirs, systemd, new=None, state_dir=True, timeout=60):
    """Generation 1 is in place (and in the boot state); generation 2 is applied as macsec_secy does it."""
    old = spec_of(**GENERATION_1)
    if kernel.index_of('macsec0') is None:
        converge(kernel, old)
    if state_dir:
        _secy.write_boot_state(dirs['state'], old)
    new = new or spec_of(**GENERATION_2)
    current = read(kernel)
    applied = _confirm.keep_previous(new, current)
    timer = _confirm.arm(dirs['pending'], new, current, timeout, systemd,
                         state_dir=dirs['state'] if state_dir else None, pn_registry='/var/lib/reg.json')
    converge(kernel, applied)
    return timer


def pending_file(dirs):
    return _confirm.pending_path(dirs['pending'], 'macsec0')


def commit(kernel, dirs, systemd, **kwargs):
    return _confirm.commit(dirs['pending'], 'macsec0', kernel.ipr, kernel.genl, None, key_id_of, systemd, **kwargs)


def rollback(kernel, dirs, name='macsec0', reason='timer'):
    return _confirm.rollback(dirs['pending'], name, kernel.ipr, kernel.genl, None, key_id_of, reason=reason)


def test_unit_name_escapes_what_systemd_does_not_take():
    assert _confirm.unit_name('macsec0') == 'l2sec-rollback-macsec0'
    assert _confirm.unit_name('ms-a_b.1') == 'l2sec-rollback-ms-a_b.1'
    assert _confirm.unit_name('ms@1+') == 'l2sec-rollback-ms\\x401\\x2b'


def test_arm_keeps_the_change_in_a_0600_file_and_starts_the_timer_that_the_agent_understands(
        kernel, dirs, systemd):
    assert arm_change(kernel, dirs, systemd) == 'l2sec-rollback-macsec0.timer'
    assert stat.S_IMODE(os.stat(pending_file(dirs)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dirs['pending']).st_mode) == 0o700
    with open(pending_file(dirs), encoding='utf-8') as handle:
        data = json.load(handle)
    assert not any(key in json.dumps(data['previous']) for key in ALL_KEYS)
    assert data['previous']['link']['encoding_sa'] == 0
    assert data['secy']['tx_sas'][0]['key'] == KEY_A2  # the commit installs nothing: the keys are for the record
    assert data['baseline'] == {PEER_SCI: [1, 0]} and data['state_dir'] == dirs['state'] and data['timeout'] == 60
    # An earlier timer is stopped first; then the new one.
    assert systemd.calls[:2] == [['systemctl', 'stop', 'l2sec-rollback-macsec0.timer'],
                                 ['systemctl', 'reset-failed', 'l2sec-rollback-macsec0.timer',
                                  'l2sec-rollback-macsec0.service']]
    run = systemd.calls[2]
    assert run[:3] == ['systemd-run', '--unit=l2sec-rollback-macsec0', '--on-active=60s']
    agent = run.index(_confirm.AGENT)
    assert run[agent - 1] == '/usr/bin/python3'
    args = _agent.parse_args(run[agent + 1:])
    assert (args.command, args.name, args.reason, args.pending_dir, args.pn_registry) == (
        'rollback', 'macsec0', 'timer', dirs['pending'], '/var/lib/reg.json')
    assert len(systemd.calls) == 3


def test_arm_that_systemd_refuses_leaves_no_pending_change(kernel, dirs, systemd):
    systemd.run_rc = 1
    converge(kernel, spec_of(**GENERATION_1))
    with pytest.raises(_confirm.ConfirmError) as error:
        _confirm.arm(dirs['pending'], spec_of(**GENERATION_2), read(kernel), 60, systemd)
    assert str(error.value) == ('macsec0: cannot arm the rollback timer (systemd-run): Failed to start transient '
                                'timer unit')
    assert not os.path.exists(pending_file(dirs))


def test_a_rearm_that_systemd_refuses_keeps_the_earlier_pending_change(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    with open(pending_file(dirs), 'rb') as handle:
        earlier = handle.read()
    systemd.run_rc = 1
    with pytest.raises(_confirm.ConfirmError):
        _confirm.arm(dirs['pending'], spec_of(an=2, tx_key='3a' * 16, rx_key='3b' * 16), read(kernel), 60, systemd)
    with open(pending_file(dirs), 'rb') as handle:
        assert handle.read() == earlier
    assert _confirm.read_pending(dirs['pending'], 'macsec0', key_id_of)['spec']['tx_sas'][1]['key'] == KEY_A2


def test_after_arm_the_old_and_the_new_sas_are_installed(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    assert sas_of(kernel) == ({None: [0, 1], PEER_SCI: [0, 1]}, 1)
    index = kernel.index_of('macsec0')
    assert kernel.keys[(index, None, 0)] == KEY_A and kernel.keys[(index, None, 1)] == KEY_A2
    assert _confirm.read_pending(dirs['pending'], 'macsec0', key_id_of)['spec'] == spec_of(**GENERATION_2)


def test_rollback_goes_back_to_the_previous_sas_and_records_it(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    kernel.calls.clear()
    record = rollback(kernel, dirs)
    assert sas_of(kernel) == ({None: [0], PEER_SCI: [0]}, 0)
    assert not [name for name, dummy in kernel.modifying_calls() if name.startswith('add_')]
    index = kernel.index_of('macsec0')
    assert kernel.keys[(index, None, 0)] == KEY_A  # the SA that never left
    assert record['reason'] == 'timer' and record['restored'] == 'the previous SAs and options'
    assert 'change encoding_sa 1 -> 0' in record['changes']
    assert _confirm.read_rolled_back(dirs['pending'], 'macsec0') == record
    assert stat.S_IMODE(os.stat(_confirm.rolled_back_path(dirs['pending'], 'macsec0')).st_mode) == 0o600
    assert not os.path.exists(pending_file(dirs))


def test_commit_removes_the_previous_sas_and_writes_the_boot_state(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    systemd.calls.clear()
    result = commit(kernel, dirs, systemd)
    assert result['committed'] is True and result['rolled_back'] is None
    assert result['changes'][0] == 'stop the rollback timer' and result['changes'][-1] == 'write the boot state file'
    assert systemd.calls[0] == ['systemctl', 'stop', 'l2sec-rollback-macsec0.timer']
    assert sas_of(kernel) == ({None: [1], PEER_SCI: [1]}, 1)
    assert [spec for dummy, spec in _secy.read_boot_states(dirs['state'], key_id_of)] == [spec_of(**GENERATION_2)]
    assert not os.path.exists(pending_file(dirs))
    # Committed once: a second commit finds nothing.
    assert commit(kernel, dirs, systemd) == {'committed': False, 'changes': [], 'rolled_back': None}


def test_commit_without_a_state_dir_writes_no_boot_state(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd, state_dir=False)
    result = commit(kernel, dirs, systemd)
    assert result['committed'] is True and 'write the boot state file' not in result['changes']
    assert not os.path.exists(dirs['state'])


def test_commit_in_check_mode_changes_nothing(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    kernel.calls.clear()
    systemd.calls.clear()
    assert commit(kernel, dirs, systemd, check_mode=True)['committed'] is True
    assert kernel.modifying_calls() == [] and systemd.calls == [] and os.path.exists(pending_file(dirs))


def test_commit_after_the_rollback_reports_the_rollback(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    record = rollback(kernel, dirs)
    kernel.calls.clear()
    assert commit(kernel, dirs, systemd) == {'committed': False, 'changes': [], 'rolled_back': record}
    assert kernel.modifying_calls() == []
    assert sas_of(kernel) == ({None: [0], PEER_SCI: [0]}, 0)


def test_a_new_arm_forgets_the_last_rollback(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)
    rollback(kernel, dirs)
    arm_change(kernel, dirs, systemd)
    assert _confirm.read_rolled_back(dirs['pending'], 'macsec0') is None


def test_rollback_with_nothing_pending_returns_none(kernel, dirs):
    converge(kernel, spec_of(**GENERATION_1))
    kernel.calls.clear()
    assert rollback(kernel, dirs) is None
    assert kernel.modifying_calls() == []
    assert _confirm.read_rolled_back(dirs['pending'], 'macsec0') is None


def test_rollback_of_a_secy_that_did_not_exist_removes_it(kernel, dirs, systemd):
    new = spec_of(**GENERATION_2)
    _confirm.arm(dirs['pending'], new, None, 30, systemd)
    converge(kernel, _confirm.keep_previous(new, None))
    record = rollback(kernel, dirs)
    assert kernel.index_of('macsec0') is None
    assert record['restored'] == 'removed (it did not exist before the change)'
    assert record['changes'] == ['delete the macsec link macsec0']


def test_rollback_of_a_link_made_again_goes_back_to_its_boot_state(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd, new=spec_of(icv_len=12, **GENERATION_2))
    assert kernel.secy_of('macsec0')['secy']['icv_len'] == 12
    assert all(args['has_key'] for name, args in kernel.calls if name in ('add_txsa', 'add_rxsa'))
    record = rollback(kernel, dirs)
    assert record['restored'] == 'the boot state (the change had recreated the link)'
    assert kernel.secy_of('macsec0')['secy']['icv_len'] == 16
    assert sas_of(kernel) == ({None: [0], PEER_SCI: [0]}, 0)
    assert kernel.keys[(kernel.index_of('macsec0'), None, 0)] == KEY_A


def test_rollback_of_a_link_made_again_without_a_boot_state_leaves_it(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd, new=spec_of(icv_len=12, **GENERATION_2), state_dir=False)
    kernel.calls.clear()
    record = rollback(kernel, dirs)
    assert record['restored'] == 'nothing: the link was recreated and has no boot state to go back to'
    assert record['changes'] == [] and kernel.modifying_calls() == []
    assert not os.path.exists(pending_file(dirs))


def test_read_pending_refuses_a_file_that_is_not_a_pending_change(dirs):
    os.makedirs(dirs['pending'])
    with open(pending_file(dirs), 'w', encoding='utf-8') as handle:
        handle.write('{"version": 99}')
    with pytest.raises(_confirm.ConfirmError, match='is not a pending change of this collection'):
        _confirm.read_pending(dirs['pending'], 'macsec0', key_id_of)
    assert _confirm.read_pending(dirs['pending'], 'macsec1', key_id_of) is None


def test_a_change_armed_while_another_is_pending_rolls_back_to_the_confirmed_state(kernel, dirs, systemd):
    arm_change(kernel, dirs, systemd)  # generation 2 pending beside generation 1
    third = spec_of(an=2, tx_key='3a' * 16, rx_key='3b' * 16)
    current = read(kernel)
    _confirm.arm(dirs['pending'], third, current, 60, systemd, state_dir=dirs['state'])
    converge(kernel, _confirm.keep_previous(third, current))
    assert sas_of(kernel) == ({None: [0, 1, 2], PEER_SCI: [0, 1, 2]}, 2)
    record = rollback(kernel, dirs)
    assert record['restored'] == 'the previous SAs and options'
    assert sas_of(kernel) == ({None: [0], PEER_SCI: [0]}, 0)  # generation 2 was never confirmed
