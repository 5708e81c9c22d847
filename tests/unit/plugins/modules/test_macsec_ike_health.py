# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macsec_ike_health module end to end, swanctl and ping faked at run_command: it reads the SAs once per
round, pings each peer first, changes nothing, fails naming the unhealthy connections (or only reports them), and
fails saying so when swanctl cannot answer."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.modules import macsec_ike_health
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.test_ike_health import (
    REAL_SAMPLE, child, ike_line, listing)

SWANCTL = '/usr/sbin/swanctl'
PING = '/usr/bin/ping'
LIST_SAS = [SWANCTL, '--list-sas', '--raw']


class Host:
    """swanctl and ping through run_command. `sas` maps each connection to the state of its IKE SA (None: no SA);
    a ping of a peer in `answering` moves 3 ESP packets each way on the connection towards it (`towards`)."""

    def __init__(self, sas, towards=None, answering=(), swanctl=None):
        self.sas = dict(sas)
        self.towards = dict(towards or {})
        self.answering = set(answering)
        self.swanctl = swanctl  # (rc, out, err) instead of the SAs
        self.packets = {name: 0 for name in self.sas}
        self.commands = []
        self.looked_up = []

    def run_command(self, args):
        self.commands.append(list(args))
        if args == LIST_SAS:
            if self.swanctl:
                return self.swanctl
            return 0, listing(*[
                ike_line(name, state=state, children=[child(name, 1, packets_in=self.packets[name],
                                                            packets_out=self.packets[name])])
                for name, state in self.sas.items() if state]), ''
        if args[0] == PING:
            assert args[:-1] == [PING, '-c', '3', '-i', '0.2', '-W', '1', '-n', '-q'], args
            if args[-1] in self.answering:
                self.packets[self.towards[args[-1]]] += 3
                return 0, '3 packets transmitted, 3 received', ''
            return 1, '3 packets transmitted, 0 received', ''
        raise AssertionError(args)

    def get_bin_path(self, name, required, opt_dirs):
        assert required is True and opt_dirs, (name, required, opt_dirs)
        self.looked_up.append(name)
        return {'swanctl': SWANCTL, 'ping': PING}[name]


@pytest.fixture
def host(monkeypatch):
    """A host with two connections up; only the peer of the first answers."""
    fake = Host({'l2sec-a-1': 'ESTABLISHED', 'l2sec-b-1': 'ESTABLISHED'},
                towards={'10.0.1.2': 'l2sec-a-1', '10.0.2.2': 'l2sec-b-1'}, answering=['10.0.1.2'])
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None:
                        fake.get_bin_path(name, required, opt_dirs))
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, args, **kwargs: fake.run_command(args))
    return fake


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_ike_health.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


A = {'name': 'l2sec-a-1', 'peer': '10.0.1.2'}
B = {'name': 'l2sec-b-1', 'peer': '10.0.2.2'}


def test_a_connection_carrying_esp_both_ways_is_healthy(capsys, host):
    code, result = run_module(capsys, {'connections': [A]})
    assert code == 0 and result['changed'] is False and 'msg' not in result
    assert result['healthy'] is True and result['unhealthy'] == [] and result['waited'] == 0
    assert result['connections'] == {'l2sec-a-1': {
        'healthy': True, 'reasons': [], 'ike_sas': 1, 'ike_sas_established': 1, 'ike_state': 'ESTABLISHED', 'child_state': 'INSTALLED',
        'packets_in': 3, 'packets_out': 3, 'peer': '10.0.1.2', 'replied': True}}
    # The ping first, then one read of the SAs.
    assert host.commands == [[PING, '-c', '3', '-i', '0.2', '-W', '1', '-n', '-q', '10.0.1.2'], LIST_SAS]


def test_an_unhealthy_connection_fails_the_task_naming_it_and_why(capsys, host):
    code, result = run_module(capsys, {'connections': [A, B]})
    assert code == 1 and result['failed'] and result['changed'] is False
    assert result['healthy'] is False and result['unhealthy'] == ['l2sec-b-1']
    assert result['msg'] == ('IKE connections not protecting traffic: '
                             'no ESP packet went out on l2sec-b-1 after a ping to 10.0.2.2 (no reply); '
                             'no ESP packet came in on l2sec-b-1 after a ping to 10.0.2.2 (no reply)')
    # The failed result holds the reports too (what the controller's verdict reads).
    assert result['connections']['l2sec-a-1']['healthy'] is True
    assert result['connections']['l2sec-b-1']['replied'] is False


def test_fail_unhealthy_false_only_reports(capsys, host):
    host.sas['l2sec-b-1'] = None
    code, result = run_module(capsys, {'connections': [A, B], 'fail_unhealthy': False})
    assert code == 0 and 'failed' not in result and 'msg' not in result
    assert result['healthy'] is False and result['unhealthy'] == ['l2sec-b-1']
    assert result['connections']['l2sec-b-1']['reasons'] == [
        'l2sec-b-1 has no IKE SA (IKE with the peer did not come up: `journalctl -u strongswan` on both ends)']
    assert result['connections']['l2sec-b-1']['ike_sas'] == 0


def test_a_connection_whose_ike_sa_is_connecting(capsys, host):
    host.sas['l2sec-a-1'] = 'CONNECTING'
    code, result = run_module(capsys, {'connections': [A]})
    assert code == 1 and result['msg'] == (
        'IKE connections not protecting traffic: the IKE SA of l2sec-a-1 is CONNECTING, not ESTABLISHED')


def test_the_real_sample_without_packets_is_unhealthy(capsys, host):
    host.swanctl = (0, REAL_SAMPLE, '')
    code, result = run_module(capsys, {'connections': [{'name': 'l2sec-lab-ike-out-1', 'peer': '10.0.1.2'}],
                                       'fail_unhealthy': False})
    assert code == 0 and result['healthy'] is False
    report = result['connections']['l2sec-lab-ike-out-1']
    assert (report['ike_state'], report['child_state'], report['packets_in'], report['packets_out']) == (
        'ESTABLISHED', 'INSTALLED', 0, 0)


def test_swanctl_that_fails_fails_the_task_saying_so(capsys, host):
    host.swanctl = (1, '', "connecting to 'unix:///var/run/charon.vici' failed: No such file or directory\n")
    code, result = run_module(capsys, {'connections': [A], 'fail_unhealthy': False})
    assert code == 1 and result['failed']
    assert result['msg'] == ("swanctl --list-sas failed (is strongswan.service running?): connecting to "
                             "'unix:///var/run/charon.vici' failed: No such file or directory")
    assert 'connections' not in result


def test_a_failure_says_what_swanctl_said_without_its_plugin_lines(capsys, host):
    # Debian's swanctl names every plugin its build lacks on stderr, on every call: the reason is the last other line.
    host.swanctl = (1, '', "plugin 'pkcs11': failed to load - pkcs11_plugin_create not found\n"
                           "connecting to 'unix:///var/run/charon.vici' failed: Connection refused\n"
                           "plugin 'curl': failed to load - curl_plugin_create not found\n")
    code, result = run_module(capsys, {'connections': [A]})
    assert code == 1
    assert result['msg'] == ("swanctl --list-sas failed (is strongswan.service running?): connecting to "
                             "'unix:///var/run/charon.vici' failed: Connection refused")


def test_a_failure_without_a_word_gives_the_exit_code(capsys, host):
    host.swanctl = (2, '', '')
    code, result = run_module(capsys, {'connections': [A]})
    assert code == 1 and result['msg'] == 'swanctl --list-sas failed (is strongswan.service running?): rc 2'


def test_swanctl_output_it_cannot_read_fails_the_task(capsys, host):
    host.swanctl = (0, 'list-sa event {l2sec-a-1 {local-ts=[10.0.1.1/32}}\n', '')
    code, result = run_module(capsys, {'connections': [A]})
    assert code == 1 and result['msg'].startswith(
        'swanctl --list-sas --raw printed what this module cannot read: a list that does not end')


def test_without_peers_nothing_is_pinged_and_ping_is_not_needed(capsys, host):
    code, result = run_module(capsys, {'connections': [{'name': 'l2sec-a-1'}], 'fail_unhealthy': False})
    assert code == 0 and host.commands == [LIST_SAS] and host.looked_up == ['swanctl']
    report = result['connections']['l2sec-a-1']
    assert report['peer'] is None and report['replied'] is None
    assert report['reasons'] == ['no ESP packet went out on l2sec-a-1', 'no ESP packet came in on l2sec-a-1']


def test_check_mode_runs_the_same(capsys, host):
    code, result = run_module(capsys, {'connections': [A], '_ansible_check_mode': True})
    assert code == 0 and result['healthy'] is True and result['changed'] is False
    assert host.commands[-1] == LIST_SAS and len(host.commands) == 2


def test_a_negative_wait_is_refused_before_anything_runs(capsys, host):
    code, result = run_module(capsys, {'connections': [A], 'wait': -1})
    assert code == 1 and result['field'] == 'wait' and result['msg'].startswith('wait:')
    assert host.commands == []


def test_a_connection_needs_a_name(capsys, host):
    code, result = run_module(capsys, {'connections': [{'peer': '10.0.1.2'}]})
    assert code == 1 and 'name' in result['msg'] and host.commands == []
