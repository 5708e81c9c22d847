# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macsec_confirm module on the fake kernel: probe (and its check mode, which sends nothing), commit, status."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.modules import macsec_confirm
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import Closing, FakeKernel, FakeSystemd

KEY_A, KEY_A2, KEY_B, KEY_B2 = '1a' * 16, '2a' * 16, '1b' * 16, '2b' * 16
MAC = '52:54:00:12:34:56'
PEER_SCI = '5254001234570001'


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    fake.add_nic('eth1', MAC)
    monkeypatch.setattr(nl, 'IPRoute', lambda: Closing(fake.ipr))
    monkeypatch.setattr(nl, 'MacsecSocket', lambda: Closing(fake.genl))
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    fake.systemd = FakeSystemd()
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda module, argv, **kwargs: fake.systemd(argv))
    fake.sent = []
    monkeypatch.setattr(_confirm, 'send_probe', lambda name, mac: fake.sent.append((name, mac)))
    return fake


@pytest.fixture
def paths(tmp_path):
    return {'pending_dir': str(tmp_path / 'pending'), 'pn_registry': str(tmp_path / 'pn-registry.json')}


def spec_of(an, tx_key, rx_key):
    return _secy.normalize_spec({'name': 'macsec0', 'parent': 'eth1', 'tx_sas': [{'an': an, 'key': tx_key}],
                                 'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': an, 'key': rx_key}]}]}, _keys.key_id)


def pending_change(kernel, paths):
    """Generation 1 in place, generation 2 applied beside it with its rollback armed (as macsec_secy does it)."""
    _secy.converge(spec_of(0, KEY_A, KEY_B), kernel.ipr, kernel.genl)
    new = spec_of(1, KEY_A2, KEY_B2)
    current = _secy.read_state(kernel.ipr, kernel.genl, 'macsec0')
    _confirm.arm(paths['pending_dir'], new, current, 60, kernel.systemd)
    _secy.converge(_confirm.keep_previous(new, current), kernel.ipr, kernel.genl)


def rx_sa(kernel, an):
    return [sa for sa in kernel.secy_of('macsec0')['rx_scs'][0]['sas'] if sa['an'] == an][0]


def tx_ans(kernel):
    return [sa['an'] for sa in kernel.secy_of('macsec0')['tx_sas']]


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_confirm.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def probe_args(paths, **overrides):
    args = dict(paths, state='probe', names=['macsec0'], timeout=0, linger=0)
    args.update(overrides)
    return args


def test_probe_reports_the_new_rx_sa_and_sends_through_the_secy(capsys, kernel, paths):
    pending_change(kernel, paths)
    rx_sa(kernel, 0)['stats'] = {'in_pkts_ok': 900}  # the previous key's frames do not count
    rx_sa(kernel, 1)['stats'] = {'in_pkts_ok': 3}
    kernel.calls.clear()
    code, result = run_module(capsys, probe_args(paths))
    assert code == 0 and result['changed'] is False
    assert result['secys'] == {'macsec0': {'pending': True, 'interface': True, 'ok': True,
                                           'peers': {PEER_SCI: {'an': 1, 'received': 3, 'ok': True}}}}
    assert kernel.sent == [('macsec0', MAC)] and kernel.modifying_calls() == []
    # Nothing held, nothing to move: the PN registry is not opened, nor its lock taken.
    assert not os.path.exists(paths['pn_registry'] + '.lock')


def test_probe_without_frames_is_not_ok(capsys, kernel, paths):
    pending_change(kernel, paths)
    code, result = run_module(capsys, probe_args(paths))
    assert code == 0 and result['secys']['macsec0']['ok'] is False
    assert result['secys']['macsec0']['peers'] == {PEER_SCI: {'an': 1, 'received': 0, 'ok': False}}


def test_probe_in_check_mode_reads_but_sends_nothing(capsys, kernel, paths):
    pending_change(kernel, paths)
    rx_sa(kernel, 1)['stats'] = {'in_pkts_ok': 3}
    code, result = run_module(capsys, probe_args(paths, _ansible_check_mode=True))
    assert code == 0 and result['secys']['macsec0']['ok'] is True
    assert kernel.sent == []


def test_probe_of_a_missing_secy_says_so(capsys, kernel, paths):
    code, result = run_module(capsys, probe_args(paths, names=['macsec9']))
    assert code == 0
    assert result['secys'] == {'macsec9': {'pending': False, 'interface': False, 'ok': False, 'peers': {}}}
    assert kernel.sent == []


def held_change(kernel, paths):
    """As pending_change(), with the encoding SA kept on AN 0 (macsec_secy hold_encoding_sa)."""
    _secy.converge(spec_of(0, KEY_A, KEY_B), kernel.ipr, kernel.genl)
    new = spec_of(1, KEY_A2, KEY_B2)
    current = _secy.read_state(kernel.ipr, kernel.genl, 'macsec0')
    _confirm.arm(paths['pending_dir'], new, current, 60, kernel.systemd)
    applied = _confirm.keep_previous(new, current)
    assert _confirm.hold_encoding_sa(applied, current) == 0
    _secy.converge(applied, kernel.ipr, kernel.genl)


def encoding_sa(kernel):
    return kernel.secy_of('macsec0')['secy']['encoding_sa']


def test_probe_moves_a_held_encoding_sa_before_it_sends(capsys, kernel, paths):
    held_change(kernel, paths)
    assert encoding_sa(kernel) == 0
    code, result = run_module(capsys, probe_args(paths))
    assert code == 0 and result['changed'] is True
    assert result['secys']['macsec0']['moved'] == 'encoding SA 0 -> 1'
    assert encoding_sa(kernel) == 1 and tx_ans(kernel) == [0, 1]  # the old SAs stay until the commit
    assert [sa['an'] for sa in kernel.secy_of('macsec0')['rx_scs'][0]['sas']] == [0, 1]
    assert kernel.sent == [('macsec0', MAC)]
    assert os.path.exists(paths['pn_registry'] + '.lock')  # the move went through the PN registry, under its lock
    # Moved once: the next probe finds nothing held.
    code, result = run_module(capsys, probe_args(paths))
    assert code == 0 and result['changed'] is False and 'moved' not in result['secys']['macsec0']


def test_probe_in_check_mode_reports_a_held_encoding_sa_and_moves_nothing(capsys, kernel, paths):
    held_change(kernel, paths)
    kernel.calls.clear()
    code, result = run_module(capsys, probe_args(paths, _ansible_check_mode=True))
    assert code == 0 and result['secys']['macsec0']['moved'] == 'encoding SA 0 -> 1'
    assert encoding_sa(kernel) == 0 and kernel.modifying_calls() == []


def test_commit_of_a_held_change_moves_the_encoding_sa_and_removes_the_old_sas(capsys, kernel, paths):
    held_change(kernel, paths)
    code, result = run_module(capsys, dict(paths, state='commit', names=['macsec0']))
    assert code == 0 and result['secys']['macsec0']['committed'] is True
    assert encoding_sa(kernel) == 1 and tx_ans(kernel) == [1]


def test_commit_removes_the_previous_sas(capsys, kernel, paths):
    pending_change(kernel, paths)
    kernel.systemd.calls.clear()
    code, result = run_module(capsys, dict(paths, state='commit', names=['macsec0']))
    assert kernel.systemd.calls[0] == ['systemctl', 'stop', 'l2sec-rollback-macsec0.timer']  # by run_command
    assert code == 0 and result['changed'] is True
    secy = result['secys']['macsec0']
    assert secy['committed'] is True and secy['changes'][0] == 'stop the rollback timer'
    assert tx_ans(kernel) == [1] and not os.path.exists(_confirm.pending_path(paths['pending_dir'], 'macsec0'))
    assert os.path.exists(paths['pn_registry'])  # the removed TX SA's PN is recorded
    code, result = run_module(capsys, dict(paths, state='commit', names=['macsec0']))
    assert code == 0 and result['changed'] is False and result['secys']['macsec0']['committed'] is False


def test_commit_in_check_mode_changes_nothing(capsys, kernel, paths):
    pending_change(kernel, paths)
    kernel.calls.clear()
    kernel.systemd.calls.clear()
    code, result = run_module(capsys, dict(paths, state='commit', names=['macsec0'], _ansible_check_mode=True))
    assert code == 0 and result['changed'] is True and result['secys']['macsec0']['committed'] is True
    assert kernel.modifying_calls() == [] and tx_ans(kernel) == [0, 1] and kernel.systemd.calls == []
    assert os.path.exists(_confirm.pending_path(paths['pending_dir'], 'macsec0'))
    assert not os.path.exists(paths['pn_registry'])


def test_status_says_pending_then_what_the_rollback_restored(capsys, kernel, paths):
    pending_change(kernel, paths)
    code, result = run_module(capsys, dict(paths, state='status', names=['macsec0']))
    assert code == 0 and result['changed'] is False
    assert result['secys'] == {'macsec0': {'pending': True, 'rolled_back': None}}
    record = _confirm.rollback(paths['pending_dir'], 'macsec0', kernel.ipr, kernel.genl, None, _keys.key_id)
    code, result = run_module(capsys, dict(paths, state='status', names=['macsec0']))
    assert result['secys'] == {'macsec0': {'pending': False, 'rolled_back': record}}
    assert record['restored'] == 'the previous SAs and options' and tx_ans(kernel) == [0]


def test_a_pending_file_of_something_else_fails_the_task(capsys, kernel, paths):
    os.makedirs(paths['pending_dir'])
    with open(_confirm.pending_path(paths['pending_dir'], 'macsec0'), 'w', encoding='utf-8') as handle:
        handle.write('not json')
    code, result = run_module(capsys, dict(paths, state='status', names=['macsec0']))
    assert code == 1 and 'is not a pending change of this collection' in result['msg']


# MKA ports: their pending change is a configuration file (_confirm_files), committed and reported by name too.

def arm_port(paths, fake, tmp_path):
    config = tmp_path / 'eth2.conf'
    config.write_text('network={}\n')
    _confirm_files.arm(paths['pending_dir'], 'msw2', str(config), ['l2sec-mka@eth2.service'], 60, fake.systemd)


def test_commit_of_an_mka_port_stops_its_timer_and_forgets_its_configuration(capsys, kernel, paths, tmp_path):
    arm_port(paths, kernel, tmp_path)
    code, result = run_module(capsys, dict(paths, state='commit', names=['msw2']))
    assert code == 0 and result['changed'] and result['secys']['msw2']['committed']
    assert ['systemctl', 'stop', 'l2sec-rollback-msw2.timer'] in kernel.systemd.calls
    assert _confirm_files.read(paths['pending_dir'], 'msw2') is None


def test_status_of_an_mka_port_reports_its_pending_change_then_its_rollback(capsys, kernel, paths, tmp_path):
    arm_port(paths, kernel, tmp_path)
    code, result = run_module(capsys, dict(paths, state='status', names=['msw2']))
    assert code == 0 and result['secys']['msw2'] == {'pending': True, 'rolled_back': None}
    _confirm_files.rollback(paths['pending_dir'], 'msw2', kernel.systemd)
    code, result = run_module(capsys, dict(paths, state='status', names=['msw2']))
    assert not result['secys']['msw2']['pending']
    assert result['secys']['msw2']['rolled_back']['restored'] == 'the previous configuration'


def test_nothing_is_held_or_moved_when_the_encoding_sa_stays_or_its_new_sa_is_missing(kernel, paths):
    _secy.converge(spec_of(0, KEY_A, KEY_B), kernel.ipr, kernel.genl)
    current = _secy.read_state(kernel.ipr, kernel.genl, 'macsec0')
    same = _confirm.keep_previous(spec_of(0, KEY_A, KEY_B), current)
    assert _confirm.hold_encoding_sa(same, current) is None and same['link']['encoding_sa'] == 0
    assert _confirm.hold_encoding_sa(spec_of(1, KEY_A2, KEY_B2), None) is None  # a new SecY
    new = spec_of(1, KEY_A2, KEY_B2)
    # The new TX SA is not there (a rollback came first, or a hand removed it): the probe moves nothing.
    assert _confirm.move_encoding_sa(new, current) is None
    assert _confirm.move_encoding_sa(new, None) is None
    assert _confirm.move_encoding_sa(spec_of(0, KEY_A, KEY_B), current) is None
