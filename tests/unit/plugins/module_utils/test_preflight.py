# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

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


def test_host_facts_lists_missing_parents(monkeypatch):
    monkeypatch.setattr(preflight, 'interfaces', lambda: {'eth1': {}})
    facts = preflight.host_facts(lambda argv: (1, '', ''), lambda name: None, parents=['eth1', 'eth9'])
    assert facts['missing_parents'] == ['eth9']
    assert set(facts['offload']) == {'eth1'}


def test_python_library_version_from_metadata():
    import pytest as pytest_module  # an installed distribution with metadata

    assert preflight.python_library_version('pytest') == pytest_module.__version__
    assert preflight.python_library_version('l2sec_no_such_library') is None
