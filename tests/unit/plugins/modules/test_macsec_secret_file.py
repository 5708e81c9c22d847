# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macsec_secret_file module: markers filled from the secrets, the file written atomically with its mode,
check mode writes nothing, and the diff shows secret values only as fingerprints. No result holds a secret.
Commit-confirmed, it arms the rollback of the file of before (with a port's units, or a link's IKE connections)
before it writes, and says whether it created the file."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.modules import macsec_secret_file
from ansible_collections.l2sec.macsec.plugins.modules.macsec_secret_file import filled, masked
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import FakeSystemd

CAK = '0a1b2c3d4e5f60718293a4b5c6d7e8f9'
CKN = 'f1e2d3c4b5a697887766554433221100'
OLD_CAK = '99887766554433221100ffeeddccbbaa'  # on disk only, so no_log cannot hide it: masking must
SECRETS = {'cak': CAK, 'ckn': CKN}
ALL_SECRETS = (CAK, CKN, OLD_CAK)

TEMPLATE = ('ctrl_interface=/run/wpa_supplicant\n'
            'network={\n'
            '\tkey_mgmt=NONE\n'
            '\tmacsec_policy=1\n'
            '\tmka_cak=@@cak@@\n'
            '\tmka_ckn=@@ckn@@\n'
            '\tmka_priority=%s\n'
            '}\n')
CONTENT = TEMPLATE % 255
WANTED = CONTENT.replace('@@cak@@', CAK).replace('@@ckn@@', CKN)
HAND_EDITED = (TEMPLATE % 16).replace('@@cak@@', OLD_CAK).replace('@@ckn@@', CKN)


def run_module(capsys, **args):
    """Run the module; return (exit code, result). Fails if any secret is in the output in any form, or if
    Ansible's no_log net had to mask one (the module must not rely on it)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_secret_file.main()
    out = capsys.readouterr().out
    for secret in ALL_SECRETS:
        assert secret not in out
        assert secret.upper() not in out
    assert '********' not in out
    return exit_info.value.code, json.loads(out)


def module_args(path, **overrides):
    args = {'path': str(path), 'content': CONTENT, 'secrets': dict(SECRETS), 'secret_keys': ['mka_cak', 'mka_ckn']}
    args.update(overrides)
    return args


def write(path, text, mode):
    path.write_text(text)
    os.chmod(path, mode)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# masked() and filled() -----------------------------------------------------------------------------------------

def test_masked_replaces_the_values_of_the_listed_keys_only():
    text = 'mka_cak=%s\n\tmka_ckn = %s  \n  mka_cak\t=\t%s\nmka_priority=16\n# mka_cak_old=x\n' % (CAK, CKN, CAK)
    shown = masked(text, ['mka_cak', 'mka_ckn'])
    assert shown == ('mka_cak=%s\n\tmka_ckn = %s  \n  mka_cak\t=\t%s\nmka_priority=16\n# mka_cak_old=x\n'
                     % (_keys.fingerprint(CAK), _keys.fingerprint(CKN), _keys.fingerprint(CAK)))
    assert CAK not in shown and CKN not in shown


def test_masked_leaves_unlisted_keys_and_keys_that_only_start_alike():
    text = 'mka_cak=%s\nmka_cak_extra=%s\npsk=%s\n' % (CAK, CKN, CKN)
    assert masked(text, ['mka_cak']) == 'mka_cak=%s\nmka_cak_extra=%s\npsk=%s\n' % (_keys.fingerprint(CAK), CKN, CKN)


def test_masked_gives_the_same_fingerprint_for_the_same_value_only():
    one = masked('mka_cak=%s\n' % CAK, ['mka_cak'])
    assert one == masked('  mka_cak=%s\n' % CAK, ['mka_cak']).lstrip()
    assert one != masked('mka_cak=%s\n' % OLD_CAK, ['mka_cak'])
    assert one.startswith('mka_cak=sha256:')


def test_masked_passes_none_and_keeps_text_without_secret_keys():
    assert masked(None, ['mka_cak']) is None
    assert masked('mka_cak=1\n', []) == 'mka_cak=1\n'


def test_filled_replaces_every_marker():
    assert filled('a=@@cak@@\nb=@@ckn@@ @@cak@@\nc=@@\n', SECRETS) == 'a=%s\nb=%s %s\nc=@@\n' % (CAK, CKN, CAK)


def test_filled_raises_key_error_naming_the_missing_marker():
    with pytest.raises(KeyError) as error:
        filled('a=@@cak@@\nb=@@psk@@\n', SECRETS)
    assert error.value.args[0] == 'psk'


# The module ----------------------------------------------------------------------------------------------------

def test_a_marker_without_secret_fails_naming_it_and_writes_nothing(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, **module_args(target, content=CONTENT + 'psk=@@psk@@\n'))
    assert code == 1 and result['failed']
    assert '@@psk@@' in result['msg'] and result['field'] == 'content'
    assert not target.exists() and os.listdir(tmp_path) == []


def test_a_new_file_is_written_with_mode_0600_and_the_secrets(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, **module_args(target))
    assert code == 0 and result['changed'] and result['path'] == str(target)
    assert target.read_text() == WANTED
    assert mode_of(target) == 0o600
    assert os.listdir(tmp_path) == ['port.conf']  # no temp file left behind


def test_unchanged_content_reports_no_change_and_no_diff(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    write(target, WANTED, 0o600)
    code, result = run_module(capsys, _ansible_diff=True, **module_args(target))
    assert code == 0 and not result['changed'] and 'diff' not in result
    assert target.read_text() == WANTED


def test_only_the_mode_differs_fixes_the_mode_without_a_content_diff(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    write(target, WANTED, 0o644)
    code, result = run_module(capsys, _ansible_diff=True, **module_args(target))
    assert code == 0 and result['changed'] and 'diff' not in result
    assert mode_of(target) == 0o600 and target.read_text() == WANTED


def test_check_mode_reports_the_change_and_the_diff_and_touches_nothing(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o644)
    code, result = run_module(capsys, _ansible_check_mode=True, _ansible_diff=True, **module_args(target))
    assert code == 0 and result['changed'] and result['diff']['after']
    assert target.read_text() == HAND_EDITED and mode_of(target) == 0o644
    assert os.listdir(tmp_path) == ['port.conf']


def test_check_mode_does_not_create_a_new_file(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, _ansible_check_mode=True, **module_args(target))
    assert code == 0 and result['changed'] and not target.exists()


def test_check_mode_does_not_fix_the_mode(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    write(target, WANTED, 0o644)
    code, result = run_module(capsys, _ansible_check_mode=True, **module_args(target))
    assert code == 0 and result['changed'] and mode_of(target) == 0o644


def test_the_diff_shows_the_changed_option_and_the_keys_only_as_fingerprints(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    code, result = run_module(capsys, _ansible_diff=True, **module_args(target))
    assert code == 0 and result['changed']
    diff = result['diff']
    assert diff['before_header'] == diff['after_header'] == str(target)
    assert '\tmka_priority=16\n' in diff['before'] and '\tmka_priority=255\n' in diff['after']
    assert '\tmka_cak=%s\n' % _keys.fingerprint(OLD_CAK) in diff['before']
    assert '\tmka_cak=%s\n' % _keys.fingerprint(CAK) in diff['after']
    assert '\tmka_ckn=%s\n' % _keys.fingerprint(CKN) in diff['before']
    assert '\tmka_ckn=%s\n' % _keys.fingerprint(CKN) in diff['after']
    assert target.read_text() == WANTED


def test_the_diff_of_a_new_file_has_an_empty_before(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, _ansible_diff=True, **module_args(target))
    assert code == 0 and result['diff']['before'] == ''
    assert result['diff']['after'] == masked(WANTED, ['mka_cak', 'mka_ckn'])


def test_a_mode_given_as_a_number_is_used_as_is(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, mode=0o640, **module_args(target))
    assert code == 0 and mode_of(target) == 0o640


def test_a_malformed_mode_fails_and_writes_nothing(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, mode='u=rw', **module_args(target))
    assert code == 1 and result['field'] == 'mode' and not target.exists()


# Commit-confirmed (confirm_timeout): the file of before is kept and the timer armed before the file changes.

@pytest.fixture
def systemd(monkeypatch):
    fake = FakeSystemd()
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda module, argv, **kwargs: fake(argv))
    return fake


def confirm_args(tmp_path, target, **overrides):
    confirm = {'confirm_timeout': 60, 'confirm_name': 'msw2', 'confirm_units': ['l2sec-mka@eth2.service'],
               'pending_dir': str(tmp_path / 'pending')}
    return module_args(target, **dict(confirm, **overrides))


def test_a_confirmed_change_arms_the_rollback_of_the_file_of_before(tmp_path, capsys, systemd):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    code, result = run_module(capsys, **confirm_args(tmp_path, target))
    assert code == 0 and result['changed'] and result['pending']
    assert result['rollback_timer'] == 'l2sec-rollback-msw2.timer' and len(systemd.runs()) == 1
    assert target.read_text() == WANTED
    _confirm_files.rollback(str(tmp_path / 'pending'), 'msw2', systemd)
    assert target.read_text() == HAND_EDITED
    assert systemd.calls[-1] == ['systemctl', 'restart', 'l2sec-mka@eth2.service']


def test_an_unchanged_file_arms_nothing_but_reports_a_change_still_pending(tmp_path, capsys, systemd):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    run_module(capsys, **confirm_args(tmp_path, target))
    code, result = run_module(capsys, **confirm_args(tmp_path, target))  # a second run before the commit
    assert code == 0 and not result['changed'] and result['pending'] and 'rollback_timer' not in result
    assert len(systemd.runs()) == 1


def test_an_unchanged_file_without_a_pending_change_is_not_pending(tmp_path, capsys, systemd):
    target = tmp_path / 'port.conf'
    write(target, WANTED, 0o600)
    code, result = run_module(capsys, **confirm_args(tmp_path, target))
    assert code == 0 and not result['changed'] and not result['pending'] and systemd.calls == []


def test_a_timer_that_cannot_be_armed_fails_and_leaves_the_file_as_it_was(tmp_path, capsys, systemd):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    systemd.run_rc = 1
    code, result = run_module(capsys, **confirm_args(tmp_path, target))
    assert code == 1 and 'cannot arm the rollback' in result['msg'] and 'nothing changed' in result['msg']
    assert target.read_text() == HAND_EDITED


def test_check_mode_with_confirm_arms_nothing(tmp_path, capsys, systemd):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    code, result = run_module(capsys, _ansible_check_mode=True, **confirm_args(tmp_path, target))
    assert code == 0 and result['changed'] and not result['pending'] and systemd.calls == []
    assert target.read_text() == HAND_EDITED


@pytest.mark.parametrize('overrides, field', [
    ({'confirm_name': None}, 'confirm_name'),
    ({'confirm_name': '../etc'}, 'confirm_name'),
    ({'confirm_timeout': -1}, 'confirm_timeout'),
])
def test_bad_confirm_settings_fail_naming_the_field_and_write_nothing(tmp_path, capsys, systemd, overrides, field):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    code, result = run_module(capsys, **confirm_args(tmp_path, target, **overrides))
    assert code == 1 and result['field'] == field and field in result['msg']
    assert target.read_text() == HAND_EDITED and systemd.calls == []


# created: whether the file did not exist before

def test_a_new_file_is_created(tmp_path, capsys):
    code, result = run_module(capsys, **module_args(tmp_path / 'port.conf'))
    assert code == 0 and result['changed'] and result['created'] is True and result['content_changed'] is True


def test_a_new_mode_alone_is_a_change_but_not_of_the_content(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, **module_args(target))
    os.chmod(target, 0o644)
    code, result = run_module(capsys, **module_args(target))
    assert code == 0 and result['changed'] and result['content_changed'] is False
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_a_file_that_existed_is_not_created_changed_or_not(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    code, result = run_module(capsys, **module_args(target))
    assert code == 0 and result['changed'] and result['created'] is False
    code, result = run_module(capsys, **module_args(target))
    assert code == 0 and not result['changed'] and result['created'] is False


def test_check_mode_says_a_new_file_would_be_created(tmp_path, capsys):
    target = tmp_path / 'port.conf'
    code, result = run_module(capsys, _ansible_check_mode=True, **module_args(target))
    assert code == 0 and result['created'] is True and not target.exists()


# confirm_ike: a link's swanctl file, whose rollback loads strongSwan's files and makes the link's IKE SAs again

SWANCTL = ('connections {\n  l2sec-ab-1 {\n    version = 2\n  }\n}\n'
           'secrets {\n  ike-l2sec-ab-1 {\n    secret = 0x@@psk@@\n  }\n}\n')
PSK = 'c3a1b2c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80'


def ike_args(tmp_path, target, **overrides):
    args = {'path': str(target), 'content': SWANCTL, 'secrets': {'psk': PSK}, 'secret_keys': ['secret'],
            'confirm_timeout': 300, 'confirm_name': 'ike-ab', 'pending_dir': str(tmp_path / 'pending'),
            'confirm_ike': {'connections': ['l2sec-ab-1'], 'initiate': ['l2sec-ab-1']}}
    args.update(overrides)
    return args


def test_confirm_ike_is_kept_for_the_rollback_which_runs_swanctl_and_restarts_no_unit(tmp_path, capsys, systemd):
    target = tmp_path / 'l2sec-macsec-ab.conf'
    old = SWANCTL.replace('@@psk@@', '00' * 32)
    write(target, old, 0o600)
    code, result = run_module(capsys, **ike_args(tmp_path, target))
    assert code == 0 and result['changed'] and result['pending'] and result['created'] is False
    assert result['rollback_timer'] == 'l2sec-rollback-ike-ab.timer'
    assert PSK not in json.dumps(result) and target.read_text() == SWANCTL.replace('@@psk@@', PSK)
    record = _confirm_files.read(str(tmp_path / 'pending'), 'ike-ab')
    assert record['ike'] == {'connections': ['l2sec-ab-1'], 'initiate': ['l2sec-ab-1']} and record['units'] == []
    armed = len(systemd.calls)
    _confirm_files.rollback(str(tmp_path / 'pending'), 'ike-ab', systemd)
    assert target.read_text() == old
    assert systemd.calls[armed:] == [['swanctl', '--load-all', '--noprompt'],
                                     ['swanctl', '--terminate', '--ike', 'l2sec-ab-1', '--force', '--timeout', '5'],
                                     ['swanctl', '--initiate', '--child', 'l2sec-ab-1', '--timeout', '20']]


def test_confirm_ike_of_a_new_file_is_created_and_its_rollback_removes_it(tmp_path, capsys, systemd):
    target = tmp_path / 'l2sec-macsec-ab.conf'
    code, result = run_module(capsys, **ike_args(tmp_path, target, confirm_ike={'connections': ['l2sec-ab-1']}))
    assert code == 0 and result['created'] is True and result['pending']
    # initiate defaults to none.
    record = _confirm_files.read(str(tmp_path / 'pending'), 'ike-ab')
    assert record['ike'] == {'connections': ['l2sec-ab-1'], 'initiate': []}
    record = _confirm_files.rollback(str(tmp_path / 'pending'), 'ike-ab', systemd)
    assert not target.exists() and record['restored'] == 'nothing: it did not exist before the change'
    assert not any(call[:2] == ['swanctl', '--initiate'] for call in systemd.calls)


def test_without_confirm_ike_the_record_has_no_ike(tmp_path, capsys, systemd):
    target = tmp_path / 'port.conf'
    write(target, HAND_EDITED, 0o600)
    code, result = run_module(capsys, **confirm_args(tmp_path, target))
    assert code == 0 and result['pending'] and 'ike' not in _confirm_files.read(str(tmp_path / 'pending'), 'msw2')


def test_confirm_ike_without_confirm_timeout_arms_nothing(tmp_path, capsys, systemd):
    target = tmp_path / 'l2sec-macsec-ab.conf'
    code, result = run_module(capsys, **ike_args(tmp_path, target, confirm_timeout=0))
    assert code == 0 and result['changed'] and not result['pending'] and systemd.calls == []
    assert not (tmp_path / 'pending').exists()


def test_retire_records_the_generation_before_once_and_check_mode_writes_nothing(tmp_path, capsys):
    target, record = tmp_path / 'port.conf', tmp_path / 'lib' / 'generations.json'
    args = module_args(target, retire={'rack1-ab': 2}, generations_file=str(record))
    code, result = run_module(capsys, **dict(args, _ansible_check_mode=True))
    assert code == 0 and result['retired'] == {'rack1-ab': 2} and not record.exists()
    code, result = run_module(capsys, **args)
    assert code == 0 and result['changed'] and result['retired'] == {'rack1-ab': 2}
    assert json.loads(record.read_text()) == {'version': 1, 'links': {'rack1-ab': 2}} and mode_of(record) == 0o600
    code, result = run_module(capsys, **args)  # the file and the record as wanted: no change
    assert code == 0 and not result['changed'] and 'retired' not in result
    code, result = run_module(capsys, **dict(args, retire={'rack1-ab': 1}))  # never lowered
    assert code == 0 and not result['changed'] and json.loads(record.read_text())['links'] == {'rack1-ab': 2}


def test_a_bad_retire_fails_naming_the_field_before_the_file_is_written(tmp_path, capsys):
    code, result = run_module(capsys, **module_args(tmp_path / 'port.conf', retire={'rack1-ab': 0},
                                                    generations_file=str(tmp_path / 'g.json')))
    assert code == 1 and result['field'] == 'retire' and 'a generation of 1 or more' in result['msg']
    assert os.listdir(tmp_path) == []
