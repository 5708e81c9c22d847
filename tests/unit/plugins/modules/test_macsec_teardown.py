# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The macsec_teardown module end to end: a host made by the collection (a SecY converged on the fake kernel, its
boot state, the parent record, the files) is taken back to nothing; check mode changes nothing; `retire` is
checked and recorded first; the diff holds no key."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _generations
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _teardown
from ansible_collections.l2sec.macsec.plugins.modules import macsec_teardown
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import Closing, FakeKernel

KEY_A = '1a' * 16
KEY_B = '1b' * 16
MAC = '52:54:00:12:34:56'
SCI = '5254001234560001'
REAL_PATHS = _teardown.Paths


class Commands:
    """module.run_command: records argv; `active` services run; `answers` maps an argv prefix to (rc, out, err)."""

    def __init__(self):
        self.calls = []
        self.units = []
        self.active = set()
        self.answers = {}

    def __call__(self, args):
        self.calls.append(list(args))
        for prefix, answer in self.answers.items():
            if tuple(args[:len(prefix)]) == prefix:
                return answer
        if args[:2] == ['systemctl', 'list-units']:
            return 0, ''.join('%s loaded active running x\n' % unit for unit in self.units), ''
        if args[:2] == ['systemctl', 'is-active']:
            return (0 if args[-1] in self.active else 3), '', ''
        return 0, '', ''

    def changing(self):
        reads = (['systemctl', 'list-units'], ['systemctl', 'is-active'])
        return [call for call in self.calls if call[:2] not in reads]


@pytest.fixture
def kernel(monkeypatch):
    fake = FakeKernel()
    fake.add_nic('lo', '00:00:00:00:00:00', mtu=65536)
    fake.add_nic('eth1', MAC, mtu=1500, up=False)
    monkeypatch.setattr(nl, 'HAS_PYROUTE2', True)
    monkeypatch.setattr(nl, 'IPRoute', lambda: Closing(fake.ipr))
    monkeypatch.setattr(nl, 'MacsecSocket', lambda: Closing(fake.genl))
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    return fake


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setattr(_teardown, 'Paths', lambda: REAL_PATHS(str(tmp_path)))
    return REAL_PATHS(str(tmp_path))


@pytest.fixture
def commands(monkeypatch):
    recorder = Commands()
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda module, args, **kwargs: recorder(args))
    return recorder


def module_args(paths, **overrides):
    lib = os.path.dirname(paths.parents_file)
    args = {'generations_file': os.path.join(lib, 'generations.json'),
            'pn_registry': os.path.join(lib, 'pn-registry.json'), 'parents_record': paths.parents_file}
    args.update(overrides)
    return args


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_teardown.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def spec(**overrides):
    params = {'name': 'macsec0', 'parent': 'eth1', 'mtu': 1500, 'tx_sas': [{'an': 0, 'key': KEY_A}],
              'rx_scs': [{'sci': '5254001234570001', 'sas': [{'an': 0, 'key': KEY_B}]}], 'addresses': ['10.0.1.1/24']}
    params.update(overrides)
    return _secy.normalize_spec(params, _keys.key_id)


def rolled_out(kernel, paths, args):
    """What a rollout leaves: the SecY (its parent raised to 1532 and brought up), its boot state, the parent
    record, the registry, the agent's files and a unit file."""
    with _pn_registry.PnRegistry.open(args['pn_registry']) as registry:
        _secy.converge(spec(), kernel.ipr, kernel.genl, registry, parents_file=args['parents_record'])
    _secy.write_boot_state(paths.state_dir, spec())
    for path in (os.path.join(paths.agent_dir, 'l2sec-macsec-agent'), paths.modules_load,
                 os.path.join(paths.unit_dir, 'l2sec-macsec.service')):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write('x\n')
    assert kernel.links[kernel.index_of('eth1')]['mtu'] == 1532
    assert _parents.load(args['parents_record']) == {'eth1': {'mtu': 1500, 'up': False}}
    kernel.calls.clear()


@pytest.fixture
def warned(monkeypatch):
    """The module's warnings, as module.warn() got them (where they end up depends on what else the test process
    imported: a process that loaded controller code shows them on the display instead of in the result)."""
    texts = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda module, warning: texts.append(warning))
    return texts


def tree(root):
    found = []
    for directory, dirs, files in os.walk(root):
        found.extend(os.path.join(directory, name) for name in dirs + files)
    return sorted(found)


def test_an_empty_host_changes_nothing(capsys, kernel, paths, commands):
    args = module_args(paths)
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is False
    assert result['changes'] == [] and result['retired'] == []
    assert kernel.modifying_calls() == [] and commands.changing() == []
    assert not os.path.exists(args['generations_file'])


def test_teardown_removes_the_secy_puts_the_parent_back_and_removes_the_files(
        capsys, kernel, paths, commands, warned):
    args = module_args(paths, retire={'dc1-ab': 3})
    rolled_out(kernel, paths, args)
    commands.units = ['l2sec-macsec.service']
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is True and warned == []
    assert result['retired'] == ['dc1-ab']
    assert result['changes'] == [
        'stop and disable l2sec-macsec.service',
        'delete the macsec link macsec0 (recording its PNs, retiring its keys)',
        'put the parent eth1 back as it was (mtu 1500, up off)',
        'remove the unit files l2sec-macsec.service',
        'remove %s' % paths.config_dir, 'remove %s' % paths.agent_dir, 'remove %s' % paths.modules_load]
    assert kernel.index_of('macsec0') is None
    eth1 = kernel.links[kernel.index_of('eth1')]
    assert (eth1['mtu'], eth1['up']) == (1500, False)
    assert commands.changing() == [['systemctl', 'disable', '--now', 'l2sec-macsec.service'],
                                   ['systemctl', 'daemon-reload'],
                                   ['systemctl', 'reset-failed'] + list(_teardown.UNIT_PATTERNS)]
    # What stays: the PN registry (the key retired in it) and the retired generations; nothing else.
    assert _pn_registry.PnRegistry.load(args['pn_registry']).entry(SCI, KEY_A)['retired_at'] is not None
    assert _generations.load(args['generations_file']) == {'dc1-ab': 3}
    etc = os.path.dirname(paths.config_dir)
    assert tree(etc) == [os.path.join(etc, name) for name in ('modules-load.d', 'systemd', 'systemd/system')]
    assert sorted(os.listdir(os.path.dirname(args['generations_file']))) == [
        'generations.json', 'pn-registry.json', 'pn-registry.json.lock']
    # And again (the unit is gone from systemd): nothing left to do.
    commands.units = []
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is False and result['changes'] == []


def test_check_mode_reports_the_changes_and_changes_nothing(capsys, kernel, paths, commands):
    args = module_args(paths, retire={'dc1-ab': 3})
    rolled_out(kernel, paths, args)
    commands.units = ['l2sec-macsec.service']
    before = tree(os.path.dirname(os.path.dirname(paths.config_dir)))
    with open(args['parents_record'], encoding='utf-8') as handle:
        record = handle.read()
    code, result = run_module(capsys, dict(args, _ansible_check_mode=True))
    assert code == 0 and result['changed'] is True
    assert result['retired'] == ['dc1-ab']
    assert result['changes'][:3] == ['stop and disable l2sec-macsec.service',
                                     'delete the macsec link macsec0 (recording its PNs, retiring its keys)',
                                     'put the parent eth1 back as it was (mtu 1500, up off)']
    assert kernel.modifying_calls() == [] and commands.changing() == []
    assert tree(os.path.dirname(os.path.dirname(paths.config_dir))) == before
    assert not os.path.exists(args['generations_file'])
    with open(args['parents_record'], encoding='utf-8') as handle:
        assert handle.read() == record


def test_check_mode_with_only_generations_to_retire_reports_a_change(capsys, kernel, paths, commands):
    args = module_args(paths, retire={'dc1-ab': 2}, _ansible_check_mode=True)
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is True and result['retired'] == ['dc1-ab'] and result['changes'] == []
    assert not os.path.exists(args['generations_file'])


def test_generations_are_recorded_even_with_nothing_else_to_do(capsys, kernel, paths, commands):
    args = module_args(paths, retire={'dc1-ab': 3, 'dc1-bc': 2})
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is True and result['changes'] == []
    assert result['retired'] == ['dc1-ab', 'dc1-bc']
    assert _generations.load(args['generations_file']) == {'dc1-ab': 3, 'dc1-bc': 2}
    # Never lowered, and the same again is no change.
    code, result = run_module(capsys, module_args(paths, retire={'dc1-ab': 1, 'dc1-bc': 2}))
    assert code == 0 and result['changed'] is False and result['retired'] == []
    assert _generations.load(args['generations_file']) == {'dc1-ab': 3, 'dc1-bc': 2}


@pytest.mark.parametrize('value', ['three', None, [3], {'generation': 3}])
def test_a_retire_value_that_is_not_a_number_fails_naming_its_link(capsys, kernel, paths, commands, value):
    args = module_args(paths, retire={'dc1-ab': 3, 'dc1-bc': value})
    code, result = run_module(capsys, args)
    assert code == 1
    assert result['msg'] == 'retire.dc1-bc: a generation is a whole number from 1, not %r' % (value,)
    assert not os.path.exists(args['generations_file']) and commands.calls == []


@pytest.mark.parametrize('value', [2.5, True])
def test_a_retire_value_that_is_not_a_whole_number_fails(capsys, kernel, paths, commands, value):
    code, result = run_module(capsys, module_args(paths, retire={'dc1-ab': value}))
    assert code == 1 and result['msg'].startswith('retire.dc1-ab: ')


def test_the_diff_shows_what_is_there_and_the_generations_after_without_any_key(capsys, kernel, paths, commands):
    args = module_args(paths, retire={'dc1-ab': 3}, _ansible_diff=True)
    rolled_out(kernel, paths, args)
    commands.units = ['l2sec-macsec.service']
    code, result = run_module(capsys, args)
    assert code == 0
    before = result['diff']['before']
    assert before['units'] == ['l2sec-macsec.service'] and before['secys'] == ['macsec0']
    assert before['parents'] == ['eth1'] and before['unit_files'] == ['l2sec-macsec.service']
    assert before['files'] == [paths.config_dir, paths.agent_dir, paths.modules_load]
    assert result['diff']['after'] == {'retired_generations': {'dc1-ab': 3}}
    text = json.dumps(result)
    assert KEY_A not in text and KEY_B not in text
    assert KEY_A.upper() not in text and KEY_B.upper() not in text


def test_the_check_mode_diff_shows_the_generations_that_would_be_retired(capsys, kernel, paths, commands):
    args = module_args(paths, retire={'dc1-ab': 3}, _ansible_diff=True, _ansible_check_mode=True)
    code, result = run_module(capsys, args)
    assert code == 0 and result['changed'] is True
    assert result['diff']['after'] == {'retired_generations': {'dc1-ab': 3}}


def test_a_failing_command_stops_the_teardown_says_what_was_done_and_keeps_the_generations(
        capsys, kernel, paths, commands):
    args = module_args(paths, retire={'dc1-ab': 3})
    rolled_out(kernel, paths, args)
    commands.answers[('systemctl', 'daemon-reload')] = (1, '', 'Access denied')
    code, result = run_module(capsys, args)
    assert code == 1
    assert result['msg'] == (
        'teardown stopped: systemctl daemon-reload failed (rc 1): Access denied. Done before it: delete the macsec '
        'link macsec0 (recording its PNs, retiring its keys); put the parent eth1 back as it was (mtu 1500, up '
        'off). Run the teardown again to finish.')
    assert _generations.load(args['generations_file']) == {'dc1-ab': 3}  # recorded before the steps
    assert os.path.exists(paths.config_dir)  # the steps after it did not run


def test_a_broken_parents_record_stops_before_anything(capsys, kernel, paths, commands):
    args = module_args(paths)
    rolled_out(kernel, paths, args)
    with open(args['parents_record'], 'w', encoding='utf-8') as handle:
        handle.write('not json')
    code, result = run_module(capsys, args)
    assert code == 1 and result['msg'].startswith('teardown stopped: cannot read the record of the parents')
    assert kernel.modifying_calls() == [] and kernel.index_of('macsec0') is not None
    assert commands.changing() == []


def test_a_parent_with_a_foreign_macsec_link_keeps_its_settings_with_a_warning(capsys, kernel, paths, commands,
                                                                               warned):
    args = module_args(paths)
    rolled_out(kernel, paths, args)
    # Someone else's macsec link on eth1, without a boot state of the collection: it stays, and so does eth1.
    _secy.converge(spec(name='macsec9', tx_sas=[{'an': 0, 'key': KEY_B}], rx_scs=[], addresses=None, port=9),
                   kernel.ipr, kernel.genl)
    code, result = run_module(capsys, args)
    assert code == 0
    assert kernel.index_of('macsec0') is None and kernel.index_of('macsec9') is not None
    assert kernel.links[kernel.index_of('eth1')]['mtu'] == 1532
    assert warned == ['the parent eth1 still carries a macsec link that is not the collection\'s: '
                      'its settings stay as they are']
    assert not os.path.exists(args['parents_record'])


def test_an_unreadable_boot_state_still_names_its_secy(capsys, kernel, paths, commands):
    args = module_args(paths)
    rolled_out(kernel, paths, args)
    with open(_secy.state_file(paths.state_dir, 'macsec0'), 'w', encoding='utf-8') as handle:
        handle.write('{"version": 99}')
    code, result = run_module(capsys, args)
    assert code == 0
    assert 'delete the macsec link macsec0 (recording its PNs, retiring its keys)' in result['changes']
    assert kernel.index_of('macsec0') is None


def test_a_secy_on_a_tunnel_goes_with_its_tunnel(capsys, monkeypatch, paths, commands):
    # pylint: disable=import-outside-toplevel  # the tunnel kernel of the tunnel tests
    from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.test_secy_tunnel import TunnelKernel

    fake = TunnelKernel()
    fake.add_nic('eth0', MAC)
    monkeypatch.setattr(nl, 'HAS_PYROUTE2', True)
    monkeypatch.setattr(nl, 'IPRoute', lambda: Closing(fake.ipr))
    monkeypatch.setattr(nl, 'MacsecSocket', lambda: Closing(fake.genl))
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    args = module_args(paths)
    tunnel_spec = spec(parent='gt1', mtu=None, tunnel={'local': '192.0.2.1', 'remote': '192.0.2.2',
                                                       'address': '02:3a:7b:00:00:01', 'mtu': 1425})
    _secy.converge(tunnel_spec, fake.ipr, fake.genl, parents_file=args['parents_record'])
    _secy.write_boot_state(paths.state_dir, tunnel_spec)
    assert not os.path.exists(args['parents_record'])  # the tunnel is the collection's: no record
    code, result = run_module(capsys, args)
    assert code == 0
    assert result['changes'][0] == 'delete the macsec link macsec0 and its tunnel gt1 (recording its PNs, ' \
                                   'retiring its keys)'
    assert fake.index_of('macsec0') is None and fake.index_of('gt1') is None
    assert fake.index_of('eth0') is not None


def test_a_recorded_ipv6_is_written_back_to_the_parents_sysctl(
        capsys, kernel, paths, commands, tmp_path, monkeypatch):
    sysctl = tmp_path / 'proc' / 'eth1' / 'disable_ipv6'
    sysctl.parent.mkdir(parents=True)
    sysctl.write_text('1\n', encoding='ascii')
    monkeypatch.setattr(_secy, 'SYSCTL_ROOT', str(tmp_path / 'proc'))
    args = module_args(paths)
    _parents.remember('eth1', 'ipv6', True, args['parents_record'])
    _parents.remember('eth1', 'mtu', 1400, args['parents_record'])
    code, result = run_module(capsys, args)
    assert code == 0 and result['changes'] == ['put the parent eth1 back as it was (ipv6 on, mtu 1400)']
    assert sysctl.read_text(encoding='ascii') == '0'
    assert kernel.links[kernel.index_of('eth1')]['mtu'] == 1400


def test_a_recorded_parent_that_is_gone_is_forgotten(capsys, kernel, paths, commands):
    args = module_args(paths)
    _parents.remember('eth7', 'mtu', 1500, args['parents_record'])
    code, result = run_module(capsys, args)
    assert code == 0 and result['changes'] == ['put the parent eth7 back as it was (mtu 1500)']
    assert kernel.modifying_calls() == [] and not os.path.exists(args['parents_record'])
