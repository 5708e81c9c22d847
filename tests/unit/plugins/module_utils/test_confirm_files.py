# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Commit-confirmed MKA port configurations (_confirm_files): arm keeps the file of before and arms the timer
before anything changes; commit stops the timer and forgets; rollback restores the file (or removes a new one),
restarts (or stops) the units and leaves a record; an earlier unconfirmed change keeps what it kept."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import FakeSystemd

UNIT = 'l2sec-mka@eth2.service'
OLD = b'network={\n\tmka_cak=00112233445566778899aabbccddeeff\n}\n'
NEW = b'network={\n\tmka_cak=ffeeddccbbaa99887766554433221100\n}\n'


@pytest.fixture
def port(tmp_path):
    config = tmp_path / 'eth2.conf'
    config.write_bytes(OLD)
    os.chmod(config, 0o600)
    return {'config': str(config), 'pending_dir': str(tmp_path / 'pending'), 'systemd': FakeSystemd()}


def arm(port, timeout=60):
    return _confirm_files.arm(port['pending_dir'], 'msw2', port['config'], [UNIT], timeout, port['systemd'])


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_arm_keeps_the_file_of_before_privately_and_arms_the_timer_of_the_port(port):
    assert arm(port) == 'l2sec-rollback-msw2.timer'
    record_path = _confirm.pending_path(port['pending_dir'], 'msw2')
    assert mode_of(record_path) == 0o600 and mode_of(port['pending_dir']) == 0o700
    record = _confirm_files.read(port['pending_dir'], 'msw2')
    assert record['kind'] == 'files' and record['units'] == [UNIT] and record['timeout'] == 60
    assert record['files'][port['config']]['mode'] == 0o600
    [run] = port['systemd'].runs()
    assert '--on-active=60s' in run and run[-1] == 'msw2' and 'rollback' in run
    # The timer of an earlier change is stopped first.
    assert port['systemd'].calls[0] == ['systemctl', 'stop', 'l2sec-rollback-msw2.timer']


def test_rollback_restores_the_file_restarts_the_unit_and_leaves_a_record(port):
    arm(port)
    with open(port['config'], 'wb') as handle:
        handle.write(NEW)
    record = _confirm_files.rollback(port['pending_dir'], 'msw2', port['systemd'])
    with open(port['config'], 'rb') as handle:
        assert handle.read() == OLD
    assert mode_of(port['config']) == 0o600
    assert port['systemd'].calls[-1] == ['systemctl', 'restart', UNIT]
    assert record['restored'] == 'the previous configuration' and record['reason'] == 'timer'
    assert record['changes'] == ['restore %s' % port['config'], 'restart %s' % UNIT]
    assert _confirm.read_rolled_back(port['pending_dir'], 'msw2') == record
    assert _confirm_files.read(port['pending_dir'], 'msw2') is None
    # The record names files and units: no key.
    assert b'mka_cak' not in json.dumps(record).encode()


def test_rollback_of_a_new_port_removes_its_file_and_stops_its_unit(port):
    os.unlink(port['config'])
    arm(port)
    with open(port['config'], 'wb') as handle:
        handle.write(NEW)
    record = _confirm_files.rollback(port['pending_dir'], 'msw2', port['systemd'])
    assert not os.path.exists(port['config'])
    assert port['systemd'].calls[-1] == ['systemctl', 'disable', '--now', UNIT]
    assert record['restored'] == 'nothing: the port did not exist before the change'


def test_a_failed_restart_is_in_the_record(port):
    arm(port)
    port['systemd'].run_rc = 0
    record = _confirm_files.rollback(port['pending_dir'], 'msw2',
                                     lambda argv: (1, '', 'Job failed\n') if argv[1] == 'restart' else (0, '', ''))
    assert record['changes'][-1] == 'restart %s FAILED: Job failed' % UNIT


def test_a_second_change_before_the_commit_keeps_the_file_of_before_the_first(port):
    arm(port)
    with open(port['config'], 'wb') as handle:
        handle.write(NEW)
    arm(port, timeout=90)  # the next run changes the file again, nobody confirmed the first change
    with open(port['config'], 'wb') as handle:
        handle.write(NEW + b'# again\n')
    assert _confirm_files.read(port['pending_dir'], 'msw2')['timeout'] == 90
    _confirm_files.rollback(port['pending_dir'], 'msw2', port['systemd'])
    with open(port['config'], 'rb') as handle:
        assert handle.read() == OLD


def test_commit_stops_the_timer_and_forgets_and_a_later_rollback_finds_nothing(port):
    arm(port)
    result = _confirm_files.commit(port['pending_dir'], 'msw2', port['systemd'])
    assert result['committed'] and result['rolled_back'] is None
    assert ['systemctl', 'stop', 'l2sec-rollback-msw2.timer'] in port['systemd'].calls[-2:]
    assert not os.path.exists(_confirm.pending_path(port['pending_dir'], 'msw2'))
    assert _confirm_files.rollback(port['pending_dir'], 'msw2', port['systemd']) is None


def test_commit_in_check_mode_changes_nothing(port):
    arm(port)
    calls = len(port['systemd'].calls)
    result = _confirm_files.commit(port['pending_dir'], 'msw2', port['systemd'], check_mode=True)
    assert result['committed'] and len(port['systemd'].calls) == calls
    assert _confirm_files.read(port['pending_dir'], 'msw2') is not None


def test_commit_after_the_timer_rolled_back_says_so(port):
    arm(port)
    record = _confirm_files.rollback(port['pending_dir'], 'msw2', port['systemd'])
    result = _confirm_files.commit(port['pending_dir'], 'msw2', port['systemd'])
    assert not result['committed'] and result['rolled_back'] == record


def test_a_failed_timer_leaves_no_pending_change(port):
    port['systemd'].run_rc = 1
    with pytest.raises(_confirm.ConfirmError, match='cannot arm the rollback timer'):
        arm(port)
    assert not os.path.exists(_confirm.pending_path(port['pending_dir'], 'msw2'))


def test_a_failed_timer_keeps_an_earlier_pending_change(port):
    arm(port)
    earlier = _confirm_files.read(port['pending_dir'], 'msw2')
    port['systemd'].run_rc = 1
    with pytest.raises(_confirm.ConfirmError):
        arm(port, timeout=90)
    assert _confirm_files.read(port['pending_dir'], 'msw2') == earlier


def test_arm_refuses_to_mix_with_a_pending_kernel_change(port):
    os.makedirs(port['pending_dir'])
    with open(_confirm.pending_path(port['pending_dir'], 'msw2'), 'w', encoding='utf-8') as handle:
        json.dump({'version': 1, 'secy': {'name': 'msw2'}}, handle)
    with pytest.raises(_confirm.ConfirmError, match='pending change of a kernel SecY'):
        arm(port)
    assert port['systemd'].calls == []


def test_the_kernel_side_refuses_a_port_change_by_name(port):
    arm(port)
    assert _confirm_files.read(port['pending_dir'], 'msw2') is not None
    with pytest.raises(_confirm.ConfirmError, match="MKA port's configuration"):
        _confirm.read_pending(port['pending_dir'], 'msw2', None)


def test_read_ignores_a_kernel_change_and_garbage(port):
    os.makedirs(port['pending_dir'])
    path = _confirm.pending_path(port['pending_dir'], 'msw2')
    for text in ('{"version": 1, "secy": {}}', 'not json', '[]'):
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        assert _confirm_files.read(port['pending_dir'], 'msw2') is None
