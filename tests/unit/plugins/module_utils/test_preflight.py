# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _generations
from ansible_collections.l2sec.macsec.plugins.module_utils import _preflight as preflight


def make_modules_tree(root, release, builtin='', dep=''):
    base = root / 'modules' / release
    base.mkdir(parents=True)
    (base / 'modules.builtin').write_text(builtin)
    (base / 'modules.dep').write_text(dep)
    sys_module = root / 'sys-module'
    sys_module.mkdir()
    return str(root / 'modules'), str(sys_module)


def test_macsec_module_available_from_modules_dep(tmp_path):
    modules, sys_module = make_modules_tree(tmp_path, '6.1.0', dep='kernel/drivers/net/macsec.ko: \n')
    assert preflight.macsec_module_state('6.1.0', modules, sys_module) == 'available'


def test_macsec_module_builtin(tmp_path):
    modules, sys_module = make_modules_tree(tmp_path, '6.1.0', builtin='kernel/drivers/net/macsec.ko\n')
    assert preflight.macsec_module_state('6.1.0', modules, sys_module) == 'builtin'


def test_macsec_module_loaded_wins(tmp_path):
    modules, sys_module = make_modules_tree(tmp_path, '6.1.0')
    (tmp_path / 'sys-module' / 'macsec').mkdir()
    assert preflight.macsec_module_state('6.1.0', modules, sys_module) == 'loaded'


def test_macsec_module_missing(tmp_path):
    modules, sys_module = make_modules_tree(tmp_path, '6.1.0', dep='kernel/drivers/net/veth.ko:\n')
    assert preflight.macsec_module_state('6.1.0', modules, sys_module) == 'missing'


def test_interfaces_reads_sysfs(tmp_path):
    eth1 = tmp_path / 'eth1'
    eth1.mkdir()
    (eth1 / 'address').write_text('52:54:00:01:02:03\n')
    (eth1 / 'mtu').write_text('1500\n')
    (eth1 / 'operstate').write_text('up\n')
    (eth1 / 'uevent').write_text('INTERFACE=eth1\nIFINDEX=3\n')
    bond = tmp_path / 'bond0'
    bond.mkdir()
    (bond / 'uevent').write_text('DEVTYPE=bond\n')
    (eth1 / 'master').symlink_to(bond)
    found = preflight.interfaces(str(tmp_path))
    assert found['eth1'] == {'mac': '52:54:00:01:02:03', 'mtu': 1500, 'operstate': 'up', 'master': 'bond0', 'kind': None}
    assert found['bond0']['kind'] == 'bond'


def test_binary_mentions_across_chunks(tmp_path):
    binary = tmp_path / 'daemon'
    binary.write_bytes(b'x' * 10 + b'macsec_linux' + b'y' * 10)
    assert preflight.binary_mentions(str(binary), b'macsec_linux', chunk_size=15)
    assert not preflight.binary_mentions(str(binary), b'macsec_csindex', chunk_size=15)
    assert not preflight.binary_mentions(str(tmp_path / 'absent'), b'macsec_linux')


def test_daemon_facts_versions_and_macsec_ability(tmp_path):
    wpa = tmp_path / 'wpa_supplicant'
    wpa.write_bytes(b'\0driver macsec_linux\0')
    outputs = {
        str(wpa): (0, 'wpa_supplicant v2.10\nCopyright (c) 2003-2022\n', ''),
        '/usr/sbin/swanctl': (0, 'strongSwan swanctl 5.9.8\n', ''),
    }
    paths = {'wpa_supplicant': str(wpa), 'swanctl': '/usr/sbin/swanctl'}
    facts = preflight.daemon_facts(lambda argv: outputs[argv[0]], paths.get, exists=lambda path: False)
    assert facts['wpa_supplicant'] == {'path': str(wpa), 'version': '2.10', 'macsec_linux': True,
                                       'macsec_csindex': False, 'macsec_offload': False}
    # Debian's strongSwan without libstrongswan-standard-plugins: no openssl plugin, so no ECDSA keys.
    assert facts['strongswan'] == {'path': '/usr/sbin/swanctl', 'version': '5.9.8', 'openssl_plugin': False}
    with_plugin = preflight.daemon_facts(lambda argv: outputs[argv[0]], paths.get,
                                         exists=lambda path: path == preflight.STRONGSWAN_OPENSSL_PLUGIN)
    assert with_plugin['strongswan']['openssl_plugin'] is True
    assert facts['hostapd'] is None
    assert facts['freeradius'] is None


def test_offload_facts_parses_ethtool():
    ethtool_out = 'Features for eth1:\nrx-checksumming: on\nmacsec-hw-offload: off [fixed]\n'
    facts = preflight.offload_facts(lambda argv: (0, ethtool_out, ''), '/sbin/ethtool', ['eth1'])
    assert facts == {'eth1': 'off [fixed]'}
    assert preflight.offload_facts(lambda argv: (0, '', ''), None, ['eth1']) == {'eth1': None}


def test_host_facts_lists_missing_parents(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {'eth1': {}})
    facts = preflight.host_facts(lambda argv: (1, '', ''), lambda name: None, parents=['eth1', 'eth9'],
                                 generations_file=str(tmp_path / 'absent.json'))
    assert facts['missing_parents'] == ['eth9']
    assert set(facts['offload']) == {'eth1'}


def test_python_library_version_from_metadata():
    import pytest as pytest_module  # an installed distribution with metadata

    assert preflight.python_library_version('pytest') == pytest_module.__version__
    assert preflight.python_library_version('l2sec_no_such_library') is None


# Coexistence with other network managers (docs/coexistence.md)

def make_sys_net(root, masters):
    """A fake /sys/class/net: eth0..eth3, a bond, a bridge and a team; `masters` maps a NIC to its master."""
    for name in ('eth0', 'eth1', 'eth2', 'eth3', 'bond0', 'br0', 'team0'):
        (root / name).mkdir()
    (root / 'bond0' / 'bonding').mkdir()
    (root / 'br0' / 'bridge').mkdir()
    for nic, master in masters.items():
        (root / nic / 'master').symlink_to(root / master)
    return str(root)


def test_master_kind_bond_bridge_other(tmp_path):
    sys_net = make_sys_net(tmp_path, {})
    assert preflight.master_kind('bond0', sys_net) == 'bond'
    assert preflight.master_kind('br0', sys_net) == 'bridge'
    assert preflight.master_kind('team0', sys_net) == 'other'


def test_parent_owners_masters_from_sysfs(tmp_path):
    sys_net = make_sys_net(tmp_path, {'eth1': 'bond0', 'eth2': 'br0', 'eth3': 'team0'})
    found = preflight.interfaces(sys_net)
    owners = preflight.parent_owners(['eth0', 'eth1', 'eth2', 'eth3'], found, {}, {}, sys_net)
    free = {'networkmanager': False, 'networkd': False, 'bond': None, 'bridge': None, 'other_master': None}
    assert owners == {
        'eth0': free,
        'eth1': dict(free, bond='bond0'),
        'eth2': dict(free, bridge='br0'),
        'eth3': dict(free, other_master='team0'),
    }


def test_split_terse_unescapes_colons_and_backslashes():
    assert preflight.split_terse('eth1:connected') == ['eth1', 'connected']
    assert preflight.split_terse(r'we\:ird:connected (externally)') == ['we:ird', 'connected (externally)']
    assert preflight.split_terse(r'back\\slash:unmanaged') == ['back\\slash', 'unmanaged']
    assert preflight.split_terse('') == ['']


NMCLI_OUT = ('eth0:connected\neth1:unmanaged\neth2:unavailable\n'
             'we\\:ird:disconnected\nlo:connected (externally)\n')


def test_networkmanager_devices_parses_one_terse_status():
    calls = []

    def run_command(argv):
        calls.append(argv)
        return 0, NMCLI_OUT, ''

    running, states = preflight.networkmanager_devices(run_command, '/usr/bin/nmcli')
    assert running is True
    assert states == {'eth0': 'connected', 'eth1': 'unmanaged', 'eth2': 'unavailable', 'we:ird': 'disconnected',
                      'lo': 'connected (externally)'}
    assert calls == [['/usr/bin/nmcli', '-t', '-f', 'DEVICE,STATE', 'device', 'status']]


def test_networkmanager_not_running_or_absent_manages_nothing():
    not_running = preflight.networkmanager_devices(
        lambda argv: (8, '', 'Error: NetworkManager is not running.\n'), '/usr/bin/nmcli')
    assert not_running == (False, {})

    def must_not_run(argv):
        raise AssertionError(argv)

    assert preflight.networkmanager_devices(must_not_run, None) == (False, {})


NETWORKCTL_OUT = ('  1 lo   loopback carrier    unmanaged\n'
                  '  2 eth0 ether    routable   configured\n'
                  '  3 eth1 ether    degraded   configuring\n'
                  '  4 eth2 ether    off        unmanaged\n'
                  '  5 eth3 ether    no-carrier failed\n')


def test_networkd_links_parses_one_list():
    calls = []

    def run_command(argv):
        calls.append(argv)
        return 0, NETWORKCTL_OUT, ''

    running, states = preflight.networkd_links(run_command, '/usr/bin/networkctl')
    assert running is True
    assert states == {'lo': 'unmanaged', 'eth0': 'configured', 'eth1': 'configuring', 'eth2': 'unmanaged',
                      'eth3': 'failed'}
    assert calls == [['/usr/bin/networkctl', 'list', '--no-legend', '--no-pager']]


def test_networkd_not_running_or_absent_manages_nothing():
    failed = preflight.networkd_links(
        lambda argv: (1, '', 'Failed to connect to bus: Could not activate remote peer: '
                             'org.freedesktop.network1.\n'), '/usr/bin/networkctl')
    assert failed == (False, {})
    # networkctl lists the links anyway, with the states a stopped networkd left behind.
    stale = preflight.networkd_links(
        lambda argv: (0, NETWORKCTL_OUT, 'WARNING: systemd-networkd is not running, output will be incomplete.\n'),
        '/usr/bin/networkctl')
    assert stale == (False, {})

    def must_not_run(argv):
        raise AssertionError(argv)

    assert preflight.networkd_links(must_not_run, None) == (False, {})


def test_parent_owners_managers_every_state_but_unmanaged():
    nm_states = {'eth0': 'connected', 'eth1': 'unmanaged', 'eth2': 'unavailable', 'eth3': 'connected (externally)'}
    networkd_states = {'eth0': 'unmanaged', 'eth1': 'configured', 'eth2': 'unmanaged', 'eth3': 'pending'}
    names = ['eth0', 'eth1', 'eth2', 'eth3', 'eth4']
    owners = preflight.parent_owners(names, {name: {'master': None} for name in names}, nm_states, networkd_states)
    assert {name: owner['networkmanager'] for name, owner in owners.items()} == {
        'eth0': True, 'eth1': False, 'eth2': True, 'eth3': True, 'eth4': False}
    assert {name: owner['networkd'] for name, owner in owners.items()} == {
        'eth0': False, 'eth1': True, 'eth2': False, 'eth3': True, 'eth4': False}


def owner(**managed):
    return dict({'networkmanager': False, 'networkd': False, 'bond': None, 'bridge': None, 'other_master': None},
                **managed)


def test_coexistence_refusals_name_parent_manager_and_fix():
    refusals = preflight.coexistence_refusals({
        'eth1': owner(bond='bond0'),
        'eth2': owner(bridge='br0'),
        'eth3': owner(other_master='team0'),
        'eth4': owner(networkmanager=True),
        'eth5': owner(networkd=True),
        'eth6': owner(),
    })
    assert len(refusals) == 5
    bond, bridge, other, nm, networkd = refusals
    assert bond.startswith('eth1 is a slave of bond bond0:')
    assert 'put the SecY on the bond itself (interface: bond0), not on its slave eth1' in bond
    assert bridge.startswith('eth2 is a port of bridge br0:')
    assert 'remove eth2 from br0 or put the SecY on the bridge' in bridge
    assert other.startswith('eth3 is enslaved to team0') and 'release eth3 from team0' in other
    assert nm.startswith('eth4 is managed by NetworkManager:')
    assert 'preflight_networkmanager_unmanage' in nm and 'nmcli device set eth4 managed no' in nm
    assert preflight.NM_CONF in nm
    assert networkd.startswith('eth5 is managed by systemd-networkd:')
    assert '.network file matching eth5 with [Link] Unmanaged=yes' in networkd and 'networkctl reload' in networkd


def test_coexistence_refusals_consent_covers_networkmanager_only():
    owners = {'eth1': owner(networkmanager=True), 'eth2': owner(networkmanager=True, networkd=True, bond='bond0')}
    assert len(preflight.coexistence_refusals(owners)) == 4
    with_consent = preflight.coexistence_refusals(owners, networkmanager_unmanage=True)
    assert [refusal.split(' is ')[0] for refusal in with_consent] == ['eth2', 'eth2']
    assert not any('NetworkManager' in refusal for refusal in with_consent)
    assert preflight.coexistence_refusals({'eth1': owner()}) == []
    assert preflight.coexistence_refusals({}) == []


def fake_host(calls, paths):
    def run_command(argv):
        calls.append(argv[0])
        if argv[0] == '/usr/bin/nmcli':
            return 0, 'eth1:connected\neth2:unmanaged\n', ''
        if argv[0] == '/usr/bin/networkctl':
            return 0, '  3 eth1 ether routable unmanaged\n  4 eth2 ether routable configured\n', ''
        return 1, '', ''
    return run_command, paths.get


def test_host_facts_asks_each_manager_once_for_all_parents(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {'eth1': {'master': None}, 'eth2': {}, 'eth3': {}})
    calls = []
    run_command, find_binary = fake_host(calls, {'nmcli': '/usr/bin/nmcli', 'networkctl': '/usr/bin/networkctl'})
    facts = preflight.host_facts(run_command, find_binary, parents=['eth1', 'eth2', 'eth9'],
                                 generations_file=str(tmp_path / 'absent.json'))
    assert calls.count('/usr/bin/nmcli') == 1
    assert calls.count('/usr/bin/networkctl') == 1
    assert facts['network_managers'] == {'networkmanager': True, 'networkd': True}
    assert set(facts['parent_owners']) == {'eth1', 'eth2'}  # present parents only
    assert facts['parent_owners']['eth1'] == owner(networkmanager=True)
    assert facts['parent_owners']['eth2'] == owner(networkd=True)
    assert facts['retired_generations'] == {}


def test_host_facts_without_present_parents_asks_no_manager(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {'eth1': {}})
    calls = []
    run_command, find_binary = fake_host(calls, {'nmcli': '/usr/bin/nmcli', 'networkctl': '/usr/bin/networkctl'})
    facts = preflight.host_facts(run_command, find_binary, parents=['eth9'],
                                 generations_file=str(tmp_path / 'absent.json'))
    assert calls == []
    assert facts['network_managers'] == {'networkmanager': None, 'networkd': None}
    assert facts['parent_owners'] == {}


def test_host_facts_without_managers_installed(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {'eth1': {}})
    calls = []
    run_command, find_binary = fake_host(calls, {})
    facts = preflight.host_facts(run_command, find_binary, parents=['eth1'],
                                 generations_file=str(tmp_path / 'absent.json'))
    assert calls == []
    assert facts['network_managers'] == {'networkmanager': False, 'networkd': False}
    assert facts['parent_owners'] == {'eth1': owner()}


def test_host_facts_reports_retired_generations(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {})
    record = tmp_path / 'generations.json'
    record.write_text('{"version": 1, "links": {"rack1-ab": 2}}\n')
    facts = preflight.host_facts(lambda argv: (1, '', ''), lambda name: None, generations_file=str(record))
    assert facts['retired_generations'] == {'rack1-ab': 2}


def test_host_facts_refuses_a_broken_generations_record(monkeypatch, tmp_path):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {})
    record = tmp_path / 'generations.json'
    record.write_text('{"version": 1, "links": {"rack1-ab": "two"}}\n')
    with pytest.raises(_generations.GenerationsError, match='not a version 1 record'):
        preflight.host_facts(lambda argv: (1, '', ''), lambda name: None, generations_file=str(record))
