# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macsec_health module end to end: the fake kernel, a real datagram socket for wpa_supplicant, ping faked at
run_command. It changes nothing, fails naming the unhealthy ports, and returns no secret."""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.modules import macsec_health
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import Closing, FakeKernel
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.test_health import (
    CKN, MI, STATUS_NOT_SECURED, STATUS_SECURED, StatusServer, add_secy, grow_counters, set_counters)


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    fake.add_nic('eth1', '52:54:00:12:34:56')
    fake.add_nic('eth2', '52:54:00:12:35:56')
    monkeypatch.setattr(nl, 'IPRoute', lambda: Closing(fake.ipr))
    monkeypatch.setattr(nl, 'MacsecSocket', lambda: Closing(fake.genl))
    return fake


@pytest.fixture
def pings(monkeypatch, kernel):
    """ping through run_command: each one grows the counters of its port, as a peer's answers would."""
    sent = []

    def run_command(self, args, **kwargs):
        assert args[0] == '/usr/bin/ping', args
        sent.append(args)
        grow_counters(kernel, args[args.index('-I') + 1])
        return 0, '3 packets transmitted, 3 received', ''

    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, required=False, opt_dirs=None:
                        '/usr/bin/%s' % name)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    return sent


@pytest.fixture
def wpa():
    directory = tempfile.mkdtemp(prefix='l2t-')  # short: an AF_UNIX path has at most 107 bytes
    servers = []

    def start(answer, name='eth1'):
        server = StatusServer(os.path.join(directory, name), [answer.encode()])
        servers.append(server)
        return server.sock.getsockname()

    yield start
    for server in servers:
        server.stop()
    shutil.rmtree(directory, ignore_errors=True)


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_health.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_a_protected_port_with_its_peer_probed(capsys, kernel, pings):
    add_secy(kernel)
    set_counters(kernel, 'macsec0', tx=10, ok=10)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'peers': ['10.0.1.2', 'fd00:1::2']}]})
    assert code == 0 and result['changed'] is False
    assert result['healthy'] is True and result['unhealthy'] == [] and result['waited'] == 0
    port = result['ports']['macsec0']
    assert port['healthy'] is True and port['counters']['tx_protected_delta'] == 6
    assert [args[1] for args in pings] == ['-c', '-6']
    assert port['pings'] == [{'address': '10.0.1.2', 'replied': True}, {'address': 'fd00:1::2', 'replied': True}]


def test_an_unhealthy_port_fails_the_task_naming_it(capsys, kernel, pings):
    add_secy(kernel, tx_active=False)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0'}, {'name': 'macsec1'}]})
    assert code == 1 and result['changed'] is False and result['unhealthy'] == ['macsec0', 'macsec1']
    assert result['msg'] == ('MACsec is not healthy on macsec0, macsec1: the TX SA of macsec0 on its encoding SA '
                             '(AN 0) is not active; there is no interface macsec1 on this host')
    assert result['ports']['macsec0']['tx_sa']['active'] is False


def test_fail_unhealthy_false_only_reports(capsys, kernel, pings):
    add_secy(kernel, rx_sc=False)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0'}], 'fail_unhealthy': False})
    assert code == 0 and result['healthy'] is False and 'msg' not in result
    assert result['ports']['macsec0']['reasons'] == ['macsec0 has no RX SC: it accepts frames from no peer']


def test_check_mode_runs_the_same_and_changes_nothing(capsys, kernel, pings):
    add_secy(kernel)
    set_counters(kernel, 'macsec0')
    before = len(kernel.modifying_calls())
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'peers': ['10.0.1.2']}],
                                       '_ansible_check_mode': True})
    assert code == 0 and result['changed'] is False and result['healthy'] is True and len(pings) == 1
    assert len(kernel.modifying_calls()) == before


def test_wpa_supplicant_secured_and_no_ckn_anywhere(capsys, kernel, pings, wpa):
    add_secy(kernel)
    ctrl_path = wpa(STATUS_SECURED)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'daemon': 'wpa_supplicant',
                                                  'ctrl_path': ctrl_path}]})
    assert code == 0 and result['healthy'] is True
    mka = result['ports']['macsec0']['mka']
    assert mka['secured'] is True and mka['authenticated'] is False and mka['keys_distributed'] == 1
    assert mka['participant_is_key_server'] is True and mka['is_key_server'] is False
    output = json.dumps(result)
    assert CKN not in output and MI not in output


def test_wpa_supplicant_not_secured_fails_without_leaking_the_ckn(capsys, kernel, pings, wpa):
    add_secy(kernel)
    ctrl_path = wpa(STATUS_NOT_SECURED)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'daemon': 'wpa_supplicant',
                                                  'ctrl_path': ctrl_path}]})
    assert code == 1 and 'MKA on macsec0 is not secured (KaY Active, live peers 0)' in result['msg']
    assert CKN not in json.dumps(result)


def test_wpa_supplicant_needs_its_control_socket(capsys, kernel):
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'daemon': 'wpa_supplicant'}]})
    assert code == 1 and 'ctrl_path' in result['msg']


def test_hostapd_has_no_mka_status(capsys, kernel):
    add_secy(kernel)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'daemon': 'hostapd'}]})
    assert code == 0 and result['ports']['macsec0']['mka'] is None


def test_a_bad_peer_fails_naming_its_field(capsys, kernel):
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0', 'peers': ['10.0.1.2/24']}]})
    assert code == 1 and result['field'] == 'ports[0].peers[0]' and 'without a prefix length' in result['msg']


def test_a_negative_wait_is_refused(capsys, kernel):
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0'}], 'wait': -1})
    assert code == 1 and result['msg'].startswith('wait:')


def test_without_pyroute2(capsys, monkeypatch):
    monkeypatch.setattr(nl, 'HAS_PYROUTE2', False)
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0'}]})
    assert code == 1 and 'pyroute2' in result['msg']


def test_a_kernel_without_macsec(capsys, kernel):
    kernel.failures['dump'] = nl.MacsecError(19, 'the kernel has no macsec support (modprobe macsec)')
    code, result = run_module(capsys, {'ports': [{'name': 'macsec0'}]})
    assert code == 1 and result['msg'] == 'the kernel has no macsec support (modprobe macsec)'
