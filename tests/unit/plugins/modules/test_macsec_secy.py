# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macsec_secy module end to end on the fake kernel: its options, check mode, diff, the boot state file."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.modules import macsec_secy
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import Closing, FakeKernel, FakeSystemd

KEY_A = '1a' * 16
KEY_B = '1b' * 16
SCI = '5254001234560001'
PEER_SCI = '5254001234570001'


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    fake.add_nic('eth1', '52:54:00:12:34:56')
    monkeypatch.setattr(nl, 'IPRoute', lambda: Closing(fake.ipr))
    monkeypatch.setattr(nl, 'MacsecSocket', lambda: Closing(fake.genl))
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    return fake


@pytest.fixture
def paths(tmp_path):
    return {'state_dir': str(tmp_path / 'kernel'), 'pn_registry': str(tmp_path / 'lib' / 'pn-registry.json')}


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_secy.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def secy_args(paths, **overrides):
    args = dict(paths, name='macsec0', parent='eth1', tx_sas=[{'an': 0, 'key': KEY_A}],
                rx_scs=[{'mac': '52:54:00:12:34:57', 'sas': [{'an': 0, 'key': KEY_B}]}], addresses=['10.0.1.1/24'])
    args.update(overrides)
    return args


def test_present_needs_a_parent(capsys, paths):
    code, result = run_module(capsys, dict(paths, name='macsec0'))
    assert code == 1 and 'parent' in result['msg']


def test_a_bad_option_fails_naming_its_field_and_not_the_key(capsys, kernel, paths):
    code, result = run_module(capsys, secy_args(paths, cipher='gcm-aes-256'))
    assert code == 1 and result['field'] == 'tx_sas[0].key'
    assert result['msg'].startswith('tx_sas[0].key: is 32 hex digits: a gcm-aes-256 key is 64 hex digits')
    assert KEY_A not in json.dumps(result) and kernel.modifying_calls() == []


def test_converge_persist_and_again_nothing(capsys, kernel, paths):
    code, result = run_module(capsys, secy_args(paths, send_sci=True, replay_window=32, _ansible_diff=True))
    assert code == 0 and result['changed'] is True
    assert result['changes'][0] == 'add the macsec link macsec0 on eth1 (gcm-aes-128)'
    assert result['changes'][-1] == 'write the boot state file of macsec0'
    assert result['start_pns'] == {'0': 1}
    assert result['secy']['link']['window'] == 32 and result['secy']['link']['sci'] == SCI
    assert result['diff']['after']['tx_sas'] == {'0': {'key_id': _keys.key_id(KEY_A), 'active': True}}
    assert KEY_A not in json.dumps(result) and KEY_B not in json.dumps(result)
    assert kernel.secy_of('macsec0')['rx_scs'][0]['sci'] == PEER_SCI
    state = _secy.read_boot_states(paths['state_dir'], _keys.key_id)
    assert [spec['name'] for dummy, spec in state] == ['macsec0']
    assert _pn_registry.PnRegistry.load(paths['pn_registry']).entry(SCI, KEY_A)['reserved'] == \
        _pn_registry.DEFAULT_MIN_MARGIN
    kernel.calls.clear()
    code, result = run_module(capsys, secy_args(paths, send_sci=True, replay_window=32, _ansible_diff=True))
    assert code == 0 and result['changed'] is False and result['changes'] == [] and 'diff' not in result
    assert kernel.modifying_calls() == []


def test_check_mode_changes_nothing(capsys, kernel, paths):
    code, result = run_module(capsys, secy_args(paths, _ansible_check_mode=True))
    assert code == 0 and result['changed'] is True and result['secy'] is None
    assert 'write the boot state file of macsec0' in result['changes']
    assert kernel.modifying_calls() == []
    assert not os.path.exists(paths['state_dir']) and not os.path.exists(os.path.dirname(paths['pn_registry']))


def test_absent_removes_the_link_and_its_boot_state(capsys, kernel, paths):
    run_module(capsys, secy_args(paths))
    code, result = run_module(capsys, dict(paths, name='macsec0', state='absent'))
    assert code == 0 and result['changed'] is True and result['start_pns'] == {}
    assert result['changes'] == ['delete the macsec link macsec0', 'remove the boot state file']
    assert kernel.index_of('macsec0') is None and os.listdir(paths['state_dir']) == []
    assert _pn_registry.PnRegistry.load(paths['pn_registry']).entry(SCI, KEY_A)['retired_at'] is not None
    code, result = run_module(capsys, dict(paths, name='macsec0', state='absent'))
    assert code == 0 and result['changed'] is False


def test_a_kernel_refusal_fails_the_task(capsys, kernel, paths):
    kernel.failures['add_rxsc'] = nl.MacsecError(17, 'cannot add the RX SC: it exists already')
    code, result = run_module(capsys, secy_args(paths))
    assert code == 1
    assert result['msg'].startswith('macsec0: add RX SC %s failed: cannot add the RX SC: it exists already.'
                                    % PEER_SCI)
    assert kernel.index_of('macsec0') is None and not os.path.exists(paths['state_dir'])


def test_spec_params_renames_to_the_kernels_words():
    assert macsec_secy.spec_params({'send_sci': False, 'replay_window': 5, 'name': 'x'}) == {
        'include_sci': False, 'window': 5, 'name': 'x'}


# ---------------------------------------------------------------------------------------------------------------
# confirm_timeout: a change waits for macsec_confirm with the previous SAs installed and its rollback armed

KEY_A2 = '2a' * 16
KEY_B2 = '2b' * 16


@pytest.fixture
def systemd(monkeypatch):
    fake = FakeSystemd()
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda module, argv, **kwargs: fake(argv))
    return fake


def generation_2(paths, **overrides):
    return secy_args(paths, tx_sas=[{'an': 1, 'key': KEY_A2}], encoding_sa=1,
                     rx_scs=[{'mac': '52:54:00:12:34:57', 'sas': [{'an': 1, 'key': KEY_B2}]}], **overrides)


def installed(kernel):
    secy = kernel.secy_of('macsec0')
    return [sa['an'] for sa in secy['tx_sas']], [sa['an'] for sa in secy['rx_scs'][0]['sas']], \
        secy['secy']['encoding_sa']


def boot_state_keys(paths):
    (dummy, spec), = _secy.read_boot_states(paths['state_dir'], _keys.key_id)
    return [sa['key'] for sa in spec['tx_sas'].values()]


def test_confirm_timeout_without_a_change_arms_nothing(capsys, kernel, paths, systemd, tmp_path):
    run_module(capsys, secy_args(paths))
    kernel.calls.clear()
    code, result = run_module(capsys, secy_args(paths, confirm_timeout=60, pending_dir=str(tmp_path / 'pending')))
    assert code == 0 and result['changed'] is False and result['pending'] is False
    assert 'rollback_timer' not in result
    assert systemd.calls == [] and kernel.modifying_calls() == []


def test_confirm_timeout_with_a_new_generation_keeps_the_old_one_and_leaves_the_boot_state(capsys, kernel, paths,
                                                                                           systemd, tmp_path):
    pending_dir = str(tmp_path / 'pending')
    run_module(capsys, secy_args(paths))
    code, result = run_module(capsys, generation_2(paths, confirm_timeout=60, pending_dir=pending_dir))
    assert code == 0 and result['changed'] is True
    assert result['pending'] is True and result['rollback_timer'] == 'l2sec-rollback-macsec0.timer'
    assert result['changes'][-1] == 'arm l2sec-rollback-macsec0.timer: roll back in 60 s unless confirmed'
    assert [run[:3] for run in systemd.runs()] == [
        ['systemd-run', '--unit=l2sec-rollback-macsec0', '--on-active=60s']]
    assert installed(kernel) == ([0, 1], [0, 1], 1)
    assert boot_state_keys(paths) == [KEY_A]  # still the confirmed state
    assert os.path.exists(_confirm.pending_path(pending_dir, 'macsec0'))
    assert KEY_A2 not in json.dumps(result) and KEY_B2 not in json.dumps(result)
    # Run again before the commit: nothing to change, nothing armed again, and the change is still pending.
    systemd.calls.clear()
    code, result = run_module(capsys, generation_2(paths, confirm_timeout=60, pending_dir=pending_dir))
    assert code == 0 and result['changed'] is False and result['pending'] is True and systemd.calls == []
    assert boot_state_keys(paths) == [KEY_A]


def test_retire_records_the_generation_before_once_the_secy_has_the_new_keys(capsys, kernel, paths, tmp_path):
    record = tmp_path / 'lib' / 'generations.json'
    run_module(capsys, secy_args(paths))
    args = generation_2(paths, retire={'rack1-ab': 1}, generations_file=str(record))
    code, result = run_module(capsys, dict(args, _ansible_check_mode=True))
    assert code == 0 and result['changes'][-1] == 'retire generation 1 of link rack1-ab (no later run goes back to it)'
    assert not record.exists()
    code, result = run_module(capsys, args)
    assert code == 0 and result['changes'][-1] == 'retire generation 1 of link rack1-ab (no later run goes back to it)'
    assert json.loads(record.read_text())['links'] == {'rack1-ab': 1}
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is False


def test_a_bad_retire_fails_naming_the_field_before_any_change(capsys, kernel, paths, tmp_path):
    code, result = run_module(capsys, secy_args(paths, retire={'rack1-ab': 'one'}))
    assert code == 1 and result['field'] == 'retire' and kernel.modifying_calls() == []


def test_hold_encoding_sa_installs_the_new_sas_but_keeps_sending_with_the_old_key(capsys, kernel, paths, systemd,
                                                                                  tmp_path):
    pending_dir = str(tmp_path / 'pending')
    run_module(capsys, secy_args(paths))
    code, result = run_module(capsys, generation_2(paths, confirm_timeout=60, pending_dir=pending_dir,
                                                   hold_encoding_sa=True))
    assert code == 0 and result['changed'] is True and result['pending'] is True and result['held'] == 0
    assert installed(kernel) == ([0, 1], [0, 1], 0)  # both keys at both ends' reach, still sending on AN 0
    assert result['changes'][-1] == 'keep sending with encoding SA 0 until the confirmation moves it to 1'
    # The pending change is the whole one: the probe (or the commit) moves the encoding SA.
    assert _confirm.read_pending(pending_dir, 'macsec0', _keys.key_id)['spec']['link']['encoding_sa'] == 1
    # Run again before the probe: the held change is in place, nothing is armed again.
    systemd.calls.clear()
    code, result = run_module(capsys, generation_2(paths, confirm_timeout=60, pending_dir=pending_dir,
                                                   hold_encoding_sa=True))
    assert code == 0 and result['changed'] is False and result['pending'] is True and systemd.calls == []
    assert installed(kernel) == ([0, 1], [0, 1], 0)


def test_hold_encoding_sa_holds_nothing_for_a_new_secy_or_without_confirm_timeout(capsys, kernel, paths, systemd,
                                                                                  tmp_path):
    pending_dir = str(tmp_path / 'pending')
    code, result = run_module(capsys, secy_args(paths, confirm_timeout=60, pending_dir=pending_dir,
                                                hold_encoding_sa=True))
    assert code == 0 and 'held' not in result and installed(kernel)[2] == 0  # new: nothing to send with before
    _confirm.commit(pending_dir, 'macsec0', kernel.ipr, kernel.genl, None, _keys.key_id, systemd)
    code, result = run_module(capsys, generation_2(paths, hold_encoding_sa=True))
    assert code == 0 and 'held' not in result and installed(kernel) == ([1], [1], 1)  # applied at once, for good


def test_confirm_timeout_refuses_a_key_change_on_the_same_an_before_any_change(capsys, kernel, paths, systemd,
                                                                               tmp_path):
    pending_dir = str(tmp_path / 'pending')
    run_module(capsys, secy_args(paths))
    kernel.calls.clear()
    code, result = run_module(capsys, secy_args(paths, tx_sas=[{'an': 0, 'key': KEY_A2}], confirm_timeout=60,
                                                pending_dir=pending_dir))
    assert code == 1 and result['msg'].startswith('macsec0: TX SA AN 0 would get another key')
    assert KEY_A2 not in result['msg']
    assert kernel.modifying_calls() == [] and systemd.calls == []
    assert not os.path.exists(_confirm.pending_path(pending_dir, 'macsec0'))


def test_a_change_the_kernel_refuses_is_rolled_back_at_once(capsys, kernel, paths, systemd, tmp_path):
    pending_dir = str(tmp_path / 'pending')
    run_module(capsys, secy_args(paths))
    kernel.failures['add_txsa'] = nl.MacsecError(28, 'no room for another SA')
    code, result = run_module(capsys, generation_2(paths, confirm_timeout=60, pending_dir=pending_dir))
    assert code == 1 and result['msg'].endswith('The confirmed state was restored.')
    assert installed(kernel) == ([0], [0], 0)
    assert not os.path.exists(_confirm.pending_path(pending_dir, 'macsec0'))
    assert _confirm.read_rolled_back(pending_dir, 'macsec0')['reason'] == 'failed change'


def test_a_negative_confirm_timeout_fails_naming_the_field(capsys, kernel, paths, systemd):
    code, result = run_module(capsys, secy_args(paths, confirm_timeout=-5))
    assert code == 1 and result['field'] == 'confirm_timeout' and result['msg'].startswith('confirm_timeout: ')
    assert kernel.modifying_calls() == [] and systemd.calls == []
