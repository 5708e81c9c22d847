# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel provider's host agent (plugins/module_utils/_agent.py): its systemd units, its arguments, its cheap
checks, and restore/persist against the fake kernel."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import Closing, FakeKernel

KEY_A = '1a' * 16
KEY_B = '1b' * 16
KEY_ID_A = 'a1' * 16
KEY_ID_B = 'b1' * 16
MAC = '52:54:00:12:34:56'
SCI = '5254001234560001'
PEER_SCI = '5254001234570001'


def test_units_hold_the_launcher_the_interval_and_the_margin():
    units = _agent.unit_texts(interval=45, pn_margin=12345)
    assert sorted(units) == sorted([_agent.SERVICE, _agent.PERSIST_SERVICE, _agent.PERSIST_TIMER])
    service = units[_agent.SERVICE]
    assert 'ExecStart=/usr/bin/python3 %s restore --interval 45 --pn-margin 12345\n' % _agent.LAUNCHER in service
    assert 'ExecStop=/usr/bin/python3 %s persist --reason shutdown --interval 45 --pn-margin 12345\n' \
        % _agent.LAUNCHER in service
    assert 'Before=network-pre.target' in service and 'WantedBy=multi-user.target' in service
    persist = units[_agent.PERSIST_SERVICE]
    assert 'ExecStart=/usr/bin/python3 %s persist --reason timer --interval 45 --pn-margin 12345\n' \
        % _agent.LAUNCHER in persist
    timer = units[_agent.PERSIST_TIMER]
    assert 'OnUnitActiveSec=45s\n' in timer and 'OnActiveSec=45s\n' in timer and 'every 45 s' in timer
    for text in units.values():
        assert text.startswith('# Installed by l2sec.macsec.macsec_agent\n')


def test_units_default_to_the_registry_defaults():
    units = _agent.unit_texts()
    assert '--interval %d --pn-margin %d' % (_agent.DEFAULT_INTERVAL, _pn_registry.DEFAULT_MIN_MARGIN) \
        in units[_agent.SERVICE]
    assert 'OnUnitActiveSec=%ds' % _agent.DEFAULT_INTERVAL in units[_agent.PERSIST_TIMER]


def test_the_launcher_runs_the_installed_bundle():
    assert _agent.LAUNCHER.startswith(_agent.INSTALL_DIR + '/')
    assert "sys.path.insert(0, '%s')" % _agent.INSTALL_DIR in _agent.LAUNCHER_TEXT
    assert 'sys.exit(_agent.main(sys.argv[1:], run=run))' in _agent.LAUNCHER_TEXT
    compile(_agent.LAUNCHER_TEXT, _agent.LAUNCHER, 'exec')
    assert {'_agent', '_netlink_macsec', '_pn_registry', '_secy'} <= set(_agent.BUNDLE)


def test_the_bundle_holds_every_module_util_its_files_import():
    utils = os.path.dirname(os.path.abspath(_agent.__file__))
    imported = set()
    for name in _agent.BUNDLE:
        with open(os.path.join(utils, name + '.py'), encoding='utf-8') as handle:
            imported.update(re.findall(r'plugins\.module_utils import (_[a-z_]+)', handle.read()))
    assert imported and imported <= set(_agent.BUNDLE), imported - set(_agent.BUNDLE)


def test_parse_args_defaults():
    args = _agent.parse_args(['restore'])
    assert vars(args) == {'command': 'restore', 'name': None, 'state_dir': '/etc/l2sec-macsec/kernel',
                          'pending_dir': '/run/l2sec-macsec/pending',
                          'pn_registry': '/var/lib/l2sec-macsec/pn-registry.json', 'pn_margin': 1 << 20,
                          'interval': 30, 'reason': 'manual'}
    assert args.state_dir == _secy.STATE_DIR and args.pn_registry == _pn_registry.DEFAULT_PATH
    assert args.pending_dir == _confirm.PENDING_DIR


def test_parse_args_takes_what_the_units_give():
    argv = _agent.unit_texts(45, 999)[_agent.PERSIST_SERVICE].split('ExecStart=')[1].split()[2:]
    args = _agent.parse_args(argv)
    assert (args.command, args.reason, args.interval, args.pn_margin) == ('persist', 'timer', 45, 999)


@pytest.mark.parametrize('argv', [
    ['rollback', 'macsec0', '--reason', 'timer', '--pending-dir', '/run/x'],
    ['rollback', '--reason', 'timer', '--pending-dir', '/run/x', 'macsec0'],  # as the rollback timer gives it
    ['--pending-dir', '/run/x', '--reason', 'timer', 'rollback', 'macsec0'],
])
def test_parse_args_takes_rollback_and_the_name_of_its_secy(argv):
    args = _agent.parse_args(argv)
    assert (args.command, args.name, args.reason, args.pending_dir) == ('rollback', 'macsec0', 'timer', '/run/x')


@pytest.mark.parametrize('argv', [['rollback'], ['rollback', '--reason', 'x'], ['restore', 'macsec0'],
                                  ['persist', 'macsec0']])
def test_parse_args_refuses_rollback_without_a_name_and_a_name_without_rollback(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        _agent.parse_args(argv)
    assert exit_info.value.code == 2
    assert 'rollback takes the name of a SecY, and only rollback does' in capsys.readouterr().err


def test_the_rollback_timer_runs_the_launcher():
    assert _confirm.AGENT == _agent.LAUNCHER
    assert '_confirm' in _agent.BUNDLE


def test_parse_args_refuses_an_unknown_command(capsys):
    with pytest.raises(SystemExit):
        _agent.parse_args(['reboot'])
    assert 'invalid choice' in capsys.readouterr().err


def fake_sysfs(root, interfaces):
    """/sys/class/net: a directory per interface with its uevent (None: no uevent file)."""
    for name, uevent in interfaces.items():
        (root / name).mkdir(parents=True)
        if uevent is not None:
            (root / name / 'uevent').write_text(uevent, encoding='ascii')
    return str(root)


def test_macsec_link_names_reads_the_device_types(tmp_path):
    plain = {'lo': 'INTERFACE=lo\nIFINDEX=1\n', 'eth1': 'INTERFACE=eth1\nIFINDEX=2\n', 'bonding_masters': None,
             'br0': 'DEVTYPE=bridge\nINTERFACE=br0\nIFINDEX=3\n'}
    assert _agent.macsec_link_names(fake_sysfs(tmp_path / 'plain', plain)) == []
    macsec = dict(plain, macsec0='DEVTYPE=macsec\nINTERFACE=macsec0\nIFINDEX=4\n')
    assert _agent.macsec_link_names(fake_sysfs(tmp_path / 'macsec', macsec)) == ['macsec0']
    assert _agent.macsec_link_names(str(tmp_path / 'missing')) == []


def test_persist_skips_pyroute2_when_every_secy_is_an_mka_port(tmp_path):
    state_dir = tmp_path / 'kernel'
    mka = _secy.normalize_spec({'name': 'mka0', 'parent': 'eth1', 'mka': True}, None)
    _secy.write_boot_state(str(state_dir), mka)
    (state_dir / 'broken.json').write_text('{not json', encoding='utf-8')
    assert _agent.mka_port_names(str(state_dir)) == {'mka0'}
    assert _agent.mka_port_names(str(tmp_path / 'missing')) == set()
    found = run_agent('''
import json, sys
from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
_agent.macsec_link_names = lambda sys_net='/sys/class/net': ['mka0']
code = _agent.main(['persist', '--state-dir', %r, '--pn-registry', %r])
print(json.dumps({'code': code, 'pyroute2': 'pyroute2' in sys.modules}))
''' % (str(state_dir), str(tmp_path / 'pn-registry.json')))
    assert found == {'code': 0, 'pyroute2': False}


def test_has_boot_states(tmp_path):
    assert _agent.has_boot_states(str(tmp_path / 'missing')) is False
    (tmp_path / 'notes.txt').write_text('x', encoding='utf-8')
    assert _agent.has_boot_states(str(tmp_path)) is False
    (tmp_path / 'macsec0.json').write_text('{}', encoding='utf-8')
    assert _agent.has_boot_states(str(tmp_path)) is True


def test_the_agent_knows_where_the_module_writes_boot_states():
    assert _agent.STATE_DIR == _secy.STATE_DIR


def run_agent(code):
    """Run `code` in a fresh interpreter (the pytest process has long imported pyroute2); it prints JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    process = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env, check=False,
                             timeout=120)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.splitlines()[-1])


def test_restore_without_boot_states_returns_0_and_imports_nothing_heavy(tmp_path):
    registry = tmp_path / 'registry' / 'pn-registry.json'
    found = run_agent('''
import json, sys
from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
code = _agent.main(['restore', '--state-dir', %r, '--pn-registry', %r])
heavy = sorted(name for name in sys.modules if name.split('.')[0] == 'pyroute2' or name.endswith(('._secy',
               '._netlink_macsec')))
print(json.dumps({'code': code, 'heavy': heavy}))
''' % (str(tmp_path / 'kernel'), str(registry)))
    assert found == {'code': 0, 'heavy': []}
    assert not registry.parent.exists()


def test_persist_without_macsec_links_returns_0_and_imports_nothing_heavy(tmp_path):
    found = run_agent('''
import json, sys
from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
_agent.macsec_link_names = lambda sys_net='/sys/class/net': []
code = _agent.main(['persist', '--state-dir', %r, '--pn-registry', %r])
print(json.dumps({'code': code, 'pyroute2': 'pyroute2' in sys.modules}))
''' % (str(tmp_path / 'kernel'), str(tmp_path / 'pn-registry.json')))
    assert found == {'code': 0, 'pyroute2': False}


def test_restore_without_boot_states_says_so(tmp_path, capsys):
    assert _agent.restore(_agent.parse_args(['restore', '--state-dir', str(tmp_path / 'kernel')])) == 0
    assert capsys.readouterr().out == 'no boot state in %s: nothing to restore\n' % (tmp_path / 'kernel')


# ---------------------------------------------------------------------------------------------------------------
# restore and persist on the fake kernel

@pytest.fixture
def host(monkeypatch, tmp_path):
    kernel = FakeKernel()
    kernel.add_nic('eth1', MAC)
    monkeypatch.setattr(nl, 'IPRoute', lambda: Closing(kernel.ipr))
    monkeypatch.setattr(nl, 'MacsecSocket', lambda: Closing(kernel.genl))
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    monkeypatch.setattr(_agent, '_wait_for_parent', lambda parent, deadline: kernel.index_of(parent) is not None)
    monkeypatch.setattr(_agent, 'macsec_link_names', lambda: [link['name'] for link in kernel.links.values()
                                                              if link['kind'] == 'macsec'])
    kernel.state_dir = str(tmp_path / 'kernel')
    kernel.registry = str(tmp_path / 'registry' / 'pn-registry.json')
    return kernel


def spec(name='macsec0', parent='eth1'):
    return _secy.normalize_spec({
        'name': name, 'parent': parent, 'tx_sas': [{'an': 0, 'key': KEY_A, 'key_id': KEY_ID_A}],
        'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B, 'key_id': KEY_ID_B}]}]}, None)


def agent_args(kernel, command):
    return ['--state-dir', kernel.state_dir, '--pn-registry', kernel.registry, '--pn-margin', '1000', command]


def test_restore_brings_back_the_secys_above_their_marks(host, capsys):
    _secy.write_boot_state(host.state_dir, spec())
    with _pn_registry.PnRegistry.open(host.registry, min_margin=1000) as registry:
        registry.observe(SCI, KEY_A, 123_456, key_id=KEY_ID_A)
        reserved = registry.entry(SCI, KEY_A)['reserved']
    assert _agent.main(agent_args(host, 'restore')) == 0
    secy = host.secy_of('macsec0')
    assert secy['tx_sas'][0]['pn'] == reserved + 1 and secy['rx_scs'][0]['sci'] == PEER_SCI
    out = capsys.readouterr().out
    assert out.startswith('macsec0: add the macsec link macsec0 on eth1 (gcm-aes-128); ')
    assert out.endswith('TX SAs start at PN AN 0: %d\n' % (reserved + 1))
    assert KEY_A not in out and KEY_B not in out
    # At the next boot nothing is missing: nothing changes.
    assert _agent.main(agent_args(host, 'restore')) == 0
    assert 'macsec0: already in place; TX SAs start at PN -\n' in capsys.readouterr().out


def test_restore_goes_on_after_a_secy_that_fails(host, capsys):
    _secy.write_boot_state(host.state_dir, spec('macsec0', parent='eth9'))
    _secy.write_boot_state(host.state_dir, spec('macsec1'))
    with open(os.path.join(host.state_dir, 'broken.json'), 'w', encoding='utf-8') as handle:
        handle.write('{"version": 1}')
    assert _agent.main(agent_args(host, 'restore')) == 1
    out = capsys.readouterr().out
    assert 'broken.json: unreadable, skipped: ' in out
    assert 'macsec0: the parent eth9 did not appear within 60 s' in out
    assert host.secy_of('macsec1') is not None


@pytest.mark.parametrize('call', ['link_lookup', 'link add'])
def test_restore_reports_a_netlink_error_and_goes_on(host, capsys, call):
    _secy.write_boot_state(host.state_dir, spec('macsec0'))
    _secy.write_boot_state(host.state_dir, spec('macsec1'))
    host.failures[call] = nl.NetlinkError(errno.EOPNOTSUPP, 'Operation not supported')
    assert _agent.main(agent_args(host, 'restore')) == 1
    out = capsys.readouterr().out
    assert out.startswith('macsec0: restore failed: ') and '\nmacsec1: restore failed: ' in out


def test_persist_records_every_secy_it_can_read(host, capsys):
    _secy.write_boot_state(host.state_dir, spec())
    assert _agent.main(agent_args(host, 'restore')) == 0
    host.failures['dump'] = nl.MacsecError(errno.ENODEV, 'gone meanwhile')
    assert _agent.main(agent_args(host, 'persist')) == 1
    assert 'macsec0: cannot read its TX SAs (manual): gone meanwhile\n' in capsys.readouterr().out


def test_persist_moves_the_marks_ahead_of_the_kernel(host):
    _secy.write_boot_state(host.state_dir, spec())
    assert _agent.main(agent_args(host, 'restore')) == 0
    host.secy_of('macsec0')['tx_sas'][0]['pn'] = 500_000
    assert _agent.main(agent_args(host, 'persist')) == 0
    entry = _pn_registry.PnRegistry.load(host.registry).entry(SCI, KEY_A)
    assert entry['observed_pn'] == 500_000 and entry['reserved'] >= 500_000 + 1000 - 1


def test_persist_without_macsec_links_touches_nothing(host):
    assert _agent.main(agent_args(host, 'persist')) == 0
    assert host.calls == [] and not os.path.exists(host.registry)


# ---------------------------------------------------------------------------------------------------------------
# rollback (what the timer of a commit-confirmed change runs)

def rollback_args(kernel, pending_dir):
    return ['--pn-registry', kernel.registry, '--pn-margin', '1000', 'rollback', '--reason', 'timer',
            '--pending-dir', pending_dir, 'macsec0']


def test_rollback_with_nothing_pending_says_so(host, capsys, tmp_path):
    assert _agent.main(rollback_args(host, str(tmp_path / 'pending'))) == 0
    assert capsys.readouterr().out == 'macsec0: no unconfirmed change to roll back\n'
    assert host.modifying_calls() == []


def test_rollback_takes_the_secy_back_and_says_what_it_restored(host, capsys, tmp_path):
    systemd = []  # the argv of each command arm() runs; each answers rc 0
    pending_dir = str(tmp_path / 'pending')
    _secy.converge(spec(), host.ipr, host.genl)
    new = _secy.normalize_spec({
        'name': 'macsec0', 'parent': 'eth1', 'tx_sas': [{'an': 1, 'key': '2a' * 16, 'key_id': 'a2' * 16}],
        'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': 1, 'key': '2b' * 16, 'key_id': 'b2' * 16}]}]}, None)
    current = _secy.read_state(host.ipr, host.genl, 'macsec0')
    _confirm.arm(pending_dir, new, current, 60, lambda argv: systemd.append(argv) or (0, '', ''))
    assert [argv[0] for argv in systemd] == ['systemctl', 'systemctl', 'systemd-run']
    _secy.converge(_confirm.keep_previous(new, current), host.ipr, host.genl)
    assert _agent.main(rollback_args(host, pending_dir)) == 0
    out = capsys.readouterr().out
    assert out.startswith('macsec0: its change was not confirmed in time: restored the previous SAs and options (')
    assert [sa['an'] for sa in host.secy_of('macsec0')['tx_sas']] == [0]
    assert _confirm.read_rolled_back(pending_dir, 'macsec0')['reason'] == 'timer'
    assert '2a' * 16 not in out and KEY_A not in out


def test_rollback_of_an_mka_port_restores_its_configuration_and_restarts_it(host, capsys, tmp_path):
    pending_dir = str(tmp_path / 'pending')
    config = tmp_path / 'eth2.conf'
    config.write_text('network={ mka_priority=16 }\n')
    _confirm_files.arm(pending_dir, 'macsec0', str(config), ['l2sec-mka@eth2.service'], 60, lambda argv: (0, '', ''))
    config.write_text('network={ mka_priority=255 }\n')
    ran = []
    assert _agent.main(rollback_args(host, pending_dir), run=lambda argv: ran.append(argv) or (0, '', '')) == 0
    assert config.read_text() == 'network={ mka_priority=16 }\n'
    assert ran == [['systemctl', 'restart', 'l2sec-mka@eth2.service']]
    assert capsys.readouterr().out == ('macsec0: its change was not confirmed in time: restored the previous '
                                       'configuration (restore %s; restart l2sec-mka@eth2.service)\n' % config)
    assert host.modifying_calls() == []  # no netlink: the daemon owns the port's SAs


def test_a_failed_restart_of_an_mka_port_fails_the_rollback_unit(host, capsys, tmp_path):
    pending_dir = str(tmp_path / 'pending')
    config = tmp_path / 'eth2.conf'
    config.write_text('a\n')
    _confirm_files.arm(pending_dir, 'macsec0', str(config), ['l2sec-mka@eth2.service'], 60, lambda argv: (0, '', ''))

    def failing(argv):
        return 1, '', 'Job for %s failed.\n' % argv[-1]

    assert _agent.main(rollback_args(host, pending_dir), run=failing) == 1
    assert 'FAILED: Job for l2sec-mka@eth2.service failed.' in capsys.readouterr().out


def test_the_launcher_runs_commands_for_the_agent(tmp_path):
    # The launcher's run() (module_utils may not spawn): exec its text with the agent stubbed, and run `true`.
    namespace = {}
    text = _agent.LAUNCHER_TEXT.replace('sys.exit(_agent.main(sys.argv[1:], run=run))', '')
    exec(compile(text, _agent.LAUNCHER, 'exec'), namespace)  # pylint: disable=exec-used
    assert namespace['run'](['true']) == (0, '', '')
    rc, dummy, err = namespace['run']([str(tmp_path / 'no-such-command')])
    assert rc == 1 and 'no-such-command' in err


def test_without_the_launcher_the_rollback_of_a_port_says_what_is_missing(host, capsys, tmp_path):
    pending_dir = str(tmp_path / 'pending')
    config = tmp_path / 'eth2.conf'
    config.write_text('a\n')
    _confirm_files.arm(pending_dir, 'macsec0', str(config), ['l2sec-mka@eth2.service'], 60, lambda argv: (0, '', ''))
    assert _agent.main(rollback_args(host, pending_dir)) == 1
    assert 'no command runner' in capsys.readouterr().out
