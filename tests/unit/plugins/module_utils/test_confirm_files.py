# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Commit-confirmed MKA port configurations and links' swanctl files (_confirm_files): arm keeps the file of before
and arms the timer before anything changes; commit stops the timer and forgets; rollback restores the file (or
removes a new one), restarts (or stops) the units, or for a swanctl file loads it, ends the link's IKE SAs and
initiates them again, and leaves a record; an earlier unconfirmed change keeps what it kept."""

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
    assert record['restored'] == 'nothing: it did not exist before the change'


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


# ---------------------------------------------------------------------------------------------------------------
# A link's swanctl file (ike): no unit restarts, a rollback loads the restored files, ends the link's IKE SAs and
# initiates again from the end that initiates.

SWANCTL_OLD = b'connections {\n  l2sec-ab-1 {\n    version = 2\n  }\n}\n'
SWANCTL_NEW = b'connections {\n  l2sec-ab-1 {\n    version = 2\n    mobike = no\n  }\n}\n'
IKE = {'connections': ['l2sec-ab-2', 'l2sec-ab-1'], 'initiate': ['l2sec-ab-1']}


class Swanctl(FakeSystemd):
    """FakeSystemd that answers swanctl commands from `answers` (argv prefix -> (rc, out, err))."""

    def __init__(self, answers=None):
        super().__init__()
        self.answers = dict(answers or {})

    def __call__(self, argv):
        rc, out, err = super().__call__(argv)
        for prefix, answer in self.answers.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return answer
        return rc, out, err

    def after_the_timer(self):
        """The calls after the timer was armed (the rollback's)."""
        return self.calls[self.calls.index(self.runs()[-1]) + 1:]


@pytest.fixture
def link(tmp_path):
    config = tmp_path / 'l2sec-macsec-ab.conf'
    config.write_bytes(SWANCTL_OLD)
    os.chmod(config, 0o600)
    return {'config': str(config), 'pending_dir': str(tmp_path / 'pending'), 'swanctl': Swanctl()}


def arm_link(link, ike=None, timeout=300):
    return _confirm_files.arm(link['pending_dir'], 'ike-ab', link['config'], [], timeout, link['swanctl'],
                              ike=IKE if ike is None else ike)


def test_arm_of_a_link_keeps_its_connections_sorted_and_no_unit(link):
    assert arm_link(link) == 'l2sec-rollback-ike-ab.timer'
    record = _confirm_files.read(link['pending_dir'], 'ike-ab')
    assert record['ike'] == {'connections': ['l2sec-ab-1', 'l2sec-ab-2'], 'initiate': ['l2sec-ab-1']}
    assert record['units'] == [] and record['timeout'] == 300 and list(record['files']) == [link['config']]


def test_a_second_arm_adds_the_connections_of_the_second_change(link):
    arm_link(link)
    with open(link['config'], 'wb') as handle:
        handle.write(SWANCTL_NEW)
    # The next run adds a peer (a segment) before anybody confirmed the first change.
    arm_link(link, ike={'connections': ['l2sec-ab-3'], 'initiate': ['l2sec-ab-3']})
    assert _confirm_files.read(link['pending_dir'], 'ike-ab')['ike'] == {
        'connections': ['l2sec-ab-1', 'l2sec-ab-2', 'l2sec-ab-3'], 'initiate': ['l2sec-ab-1', 'l2sec-ab-3']}
    # And the file kept is still the one of before the first change.
    _confirm_files.rollback(link['pending_dir'], 'ike-ab', link['swanctl'])
    with open(link['config'], 'rb') as handle:
        assert handle.read() == SWANCTL_OLD
    assert ['swanctl', '--terminate', '--ike', 'l2sec-ab-3', '--force', '--timeout', '5'] in link['swanctl'].calls


def test_arm_without_ike_keeps_no_ike_and_its_rollback_runs_no_swanctl(port):
    arm(port)
    assert 'ike' not in _confirm_files.read(port['pending_dir'], 'msw2')
    _confirm_files.rollback(port['pending_dir'], 'msw2', port['systemd'])
    assert not any(call[0] == 'swanctl' for call in port['systemd'].calls)


def test_the_rollback_of_a_link_restores_loads_terminates_and_initiates_in_that_order(link):
    arm_link(link)
    with open(link['config'], 'wb') as handle:
        handle.write(SWANCTL_NEW)
    record = _confirm_files.rollback(link['pending_dir'], 'ike-ab', link['swanctl'])
    with open(link['config'], 'rb') as handle:
        assert handle.read() == SWANCTL_OLD
    assert link['swanctl'].after_the_timer() == [
        ['swanctl', '--load-all', '--noprompt'],
        ['swanctl', '--terminate', '--ike', 'l2sec-ab-1', '--force', '--timeout', '5'],
        ['swanctl', '--terminate', '--ike', 'l2sec-ab-2', '--force', '--timeout', '5'],
        ['swanctl', '--initiate', '--child', 'l2sec-ab-1', '--timeout', '20'],
    ]
    assert record['restored'] == 'the previous configuration'
    assert record['changes'] == ['restore %s' % link['config'], 'swanctl --load-all --noprompt',
                                 'swanctl --terminate --ike l2sec-ab-1 --force --timeout 5',
                                 'swanctl --terminate --ike l2sec-ab-2 --force --timeout 5',
                                 'swanctl --initiate --child l2sec-ab-1 --timeout 20']
    assert _confirm_files.read(link['pending_dir'], 'ike-ab') is None


def test_the_rollback_of_a_new_link_removes_its_file_and_initiates_nothing(link):
    os.unlink(link['config'])
    arm_link(link)
    with open(link['config'], 'wb') as handle:
        handle.write(SWANCTL_NEW)
    record = _confirm_files.rollback(link['pending_dir'], 'ike-ab', link['swanctl'])
    assert not os.path.exists(link['config'])
    assert link['swanctl'].after_the_timer() == [
        ['swanctl', '--load-all', '--noprompt'],
        ['swanctl', '--terminate', '--ike', 'l2sec-ab-1', '--force', '--timeout', '5'],
        ['swanctl', '--terminate', '--ike', 'l2sec-ab-2', '--force', '--timeout', '5'],
    ]
    assert record['restored'] == 'nothing: it did not exist before the change'
    assert record['changes'][0] == 'remove %s (there was none before the change)' % link['config']


# Debian's swanctl prints a line for each plugin its build lacks, on every call: not what went wrong.
NOISE = ("plugin 'test-vectors': failed to load - test_vectors_plugin_create not found and no plugin file available\n"
         "plugin 'ldap': failed to load - ldap_plugin_create not found and no plugin file available\n")


def test_failed_swanctl_steps_are_in_the_record_and_the_rollback_goes_on(link):
    link['swanctl'].answers = {
        ('swanctl', '--load-all'): (1, '', 'loading connection l2sec-ab-1 failed\n'),
        ('swanctl', '--terminate', '--ike', 'l2sec-ab-1'): (1, '', NOISE + 'terminating SA failed: no matching SAs found\n'),
        ('swanctl', '--terminate', '--ike', 'l2sec-ab-2'): (2, '', NOISE),
        ('swanctl', '--initiate'): (1, '', 'initiate failed: establishing CHILD_SA failed\n'),
    }
    arm_link(link)
    record = _confirm_files.rollback(link['pending_dir'], 'ike-ab', link['swanctl'])
    assert record['changes'][1:] == [
        'swanctl --load-all --noprompt FAILED: loading connection l2sec-ab-1 failed',
        # An IKE SA that is not there is what a failed terminate most often means.
        'swanctl --terminate --ike l2sec-ab-1 --force --timeout 5 (none): terminating SA failed: no matching SAs found',
        'swanctl --terminate --ike l2sec-ab-2 --force --timeout 5 (none): rc 2',
        'swanctl --initiate --child l2sec-ab-1 --timeout 20 FAILED: initiate failed: establishing CHILD_SA failed',
    ]
    assert _confirm_files.read(link['pending_dir'], 'ike-ab') is None


def test_a_link_that_initiates_nothing_only_loads_and_terminates(link):
    arm_link(link, ike={'connections': ['l2sec-ab-0'], 'initiate': []})
    _confirm_files.rollback(link['pending_dir'], 'ike-ab', link['swanctl'])
    assert link['swanctl'].after_the_timer() == [
        ['swanctl', '--load-all', '--noprompt'],
        ['swanctl', '--terminate', '--ike', 'l2sec-ab-0', '--force', '--timeout', '5']]
