# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _preflight
from ansible_collections.l2sec.macsec.plugins.modules import macsec_preflight


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_preflight.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.fixture
def absent_record(tmp_path):
    return str(tmp_path / 'generations.json')


def test_reports_missing_parent_without_changing_anything(capsys, absent_record):
    code, result = run_module(capsys, {'parents': ['l2sec-no-such-nic'], 'generations_file': absent_record,
                                       '_ansible_check_mode': True})
    assert code == 0
    assert result['changed'] is False
    assert result['preflight']['missing_parents'] == ['l2sec-no-such-nic']
    assert result['preflight']['macsec_module'] in ('loaded', 'builtin', 'available', 'missing')
    assert result['preflight']['parent_owners'] == {}
    assert result['preflight']['retired_generations'] == {}
    assert result['coexistence_refusals'] == []


def test_rejects_unknown_option(capsys):
    code, result = run_module(capsys, {'parent': ['eth1']})
    assert code == 1
    assert 'parent' in result['msg']


def test_reports_retired_generations(capsys, tmp_path):
    record = tmp_path / 'generations.json'
    record.write_text('{"version": 1, "links": {"rack1-ab": 3}}\n')
    code, result = run_module(capsys, {'generations_file': str(record)})
    assert code == 0
    assert result['preflight']['retired_generations'] == {'rack1-ab': 3}


def test_fails_on_a_broken_generations_record(capsys, tmp_path):
    record = tmp_path / 'generations.json'
    record.write_text('{"version": 1, "links": ')
    code, result = run_module(capsys, {'generations_file': str(record)})
    assert code == 1
    assert result['failed'] is True
    assert 'is not JSON' in result['msg'] and 'never delete it' in result['msg']
    assert 'preflight' not in result


@pytest.fixture
def networkmanager_host(monkeypatch):
    """A host whose eth1 NetworkManager manages, with nmcli and networkctl faked at run_command."""
    commands = []

    def run_command(self, args, **kwargs):
        commands.append((args, kwargs.get('environ_update')))
        if args[0] == '/usr/bin/nmcli':
            return 0, 'eth1:connected\neth2:unmanaged\n', ''
        if args[0] == '/usr/bin/networkctl':
            return 1, '', 'Failed to query link: Could not activate remote peer: org.freedesktop.network1.\n'
        raise AssertionError(args)

    paths = {'nmcli': '/usr/bin/nmcli', 'networkctl': '/usr/bin/networkctl'}
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None:
                        paths.get(name))
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    monkeypatch.setattr(_preflight, 'interfaces', lambda: {'eth1': {'master': None}, 'eth2': {'master': None}})
    return commands


def test_refuses_a_parent_networkmanager_manages(capsys, networkmanager_host, absent_record):
    code, result = run_module(capsys, {'parents': ['eth1', 'eth2'], 'generations_file': absent_record})
    assert code == 0
    assert result['changed'] is False
    assert result['preflight']['network_managers'] == {'networkmanager': True, 'networkd': False}
    assert result['preflight']['parent_owners']['eth1']['networkmanager'] is True
    assert result['preflight']['parent_owners']['eth2']['networkmanager'] is False
    assert len(result['coexistence_refusals']) == 1
    assert result['coexistence_refusals'][0].startswith('eth1 is managed by NetworkManager:')
    # One run of each manager's command for both parents, in the C locale (their output is parsed).
    assert [args[0] for args, dummy in networkmanager_host] == ['/usr/bin/nmcli', '/usr/bin/networkctl']
    assert all(environ == {'LC_ALL': 'C'} for dummy, environ in networkmanager_host)


def test_consent_lists_no_networkmanager_refusal(capsys, networkmanager_host, absent_record):
    code, result = run_module(capsys, {'parents': ['eth1', 'eth2'], 'generations_file': absent_record,
                                       'networkmanager_unmanage': True})
    assert code == 0
    assert result['changed'] is False
    assert result['preflight']['parent_owners']['eth1']['networkmanager'] is True
    assert result['coexistence_refusals'] == []
