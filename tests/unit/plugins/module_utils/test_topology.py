# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import pathlib
import re

import pytest
import yaml

from ansible_collections.l2sec.macsec.plugins.module_utils import _topology as topology

COLLECTION = pathlib.Path(__file__).resolve().parents[4]
CORPUS = COLLECTION / 'tests' / 'unit' / 'topology_corpus'
DEFAULT_HOSTS = ['node-a', 'node-b', 'node-c']
BAD = sorted(CORPUS.glob('bad/*.yml'))
GOOD = sorted(CORPUS.glob('good/*.yml'))
SECRET_KEYS = ('sak', 'cak', 'ckn', 'salt')


def load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def secret_values(links):
    """Every key value an inventory gives, wherever it is (also misplaced), to prove messages never show them."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in SECRET_KEYS and isinstance(value, (str, int)) and len(str(value)) >= 8:
                    found.append(str(value))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(links)
    return found


def kernel_link(name='rack1-ab', **options):
    link = {'name': name, 'provider': 'kernel',
            'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    link.update(options)
    return link


def messages(errors):
    return [str(error) for error in errors]


# --- the corpus ------------------------------------------------------------------------------------------------

def test_corpus_is_large_enough():
    assert len(BAD) >= 30
    assert len(GOOD) >= 5


@pytest.mark.parametrize('path', BAD, ids=[path.stem for path in BAD])
def test_bad_inventory_reports_every_expected_error(path):
    case = load(path)
    errors = messages(topology.validate_links(case['macsec_links'], case.get('hosts', DEFAULT_HOSTS)))
    for expected in case['expected_errors']:
        assert any(expected in error for error in errors), '%r not in %s' % (expected, errors)
    assert len(errors) == case['expected_count'], errors


@pytest.mark.parametrize('path', BAD, ids=[path.stem for path in BAD])
def test_bad_inventory_errors_name_a_path_and_show_no_key(path):
    case = load(path)
    errors = topology.validate_links(case['macsec_links'], case.get('hosts', DEFAULT_HOSTS))
    secrets = secret_values(case['macsec_links'])
    for error in errors:
        assert error.path.startswith('macsec_links')
        assert error.message
        for secret in secrets:
            assert secret not in str(error)


@pytest.mark.parametrize('path', GOOD, ids=[path.stem for path in GOOD])
def test_good_inventory_is_valid_and_expands(path):
    case = load(path)
    links = case['macsec_links']
    assert messages(topology.validate_links(links, case.get('hosts', DEFAULT_HOSTS))) == []
    host_macs = case.get('host_macs') or synthetic_host_macs(links)
    parts = topology.expand(links, host_macs)
    assert set(parts) == set(host_macs)
    json.dumps(parts)  # Ansible carries the parts: plain JSON values only
    entries = sum(len(part['links']) for part in parts.values())
    assert entries == sum(1 for link in links for end in link['ends'] if end['host'] in host_macs)
    scis = [entry['end']['sci'] for part in parts.values() for entry in part['links']]
    assert len(scis) == len(set(scis))
    for part in parts.values():
        for entry in part['links']:
            link = next(link for link in links if link['name'] == entry['name'])
            assert len(entry['peers']) == len(link['ends']) - 1
            assert entry['end'] not in entry['peers']
            assert topology.ifname_problem(entry['options']['macsec_ifname']) is None


def synthetic_host_macs(links):
    """Distinct locally administered MACs for every managed end of a good inventory."""
    host_macs = {}
    for link in links:
        for end in link['ends']:
            if 'mac' in end:
                continue
            if end['host'] not in host_macs:
                host_macs[end['host']] = {}
            interfaces = host_macs[end['host']]
            host_number = list(host_macs).index(end['host']) + 1
            interfaces[end['interface']] = '02:00:00:00:%02x:%02x' % (host_number, len(interfaces) + 1)
    return host_macs


# --- the expansion of three hosts, written out by hand ------------------------------------------------------------

KERNEL_DEFAULTS = {
    'generation': 1, 'cipher': 'gcm-aes-128', 'port': 1, 'encrypt': True, 'mtu': None, 'strict_parent': False,
    'replay_protect': True, 'replay_window': 0, 'ipsec': None, 'validate': 'strict', 'icv_len': 16,
    'offload': 'off', 'send_sci': True, 'salt': None,
}
WPA_DEFAULTS = {
    'generation': 1, 'cipher': 'gcm-aes-128', 'port': 1, 'encrypt': True, 'mtu': None, 'strict_parent': False,
    'replay_protect': True, 'replay_window': 0, 'ipsec': None, 'validate': 'strict', 'icv_len': 16,
    'offload': 'off', 'mode': 'psk', 'cak': None, 'ckn': None, 'radius': None,
}


def record(host, index, interface, address, mac, port, sci, **extra):
    return dict({'host': host, 'index': index, 'interface': interface, 'address': address, 'mac': mac,
                 'port': port, 'sci': sci}, **extra)


A1 = record('node-a', 0, 'eth1', '10.0.1.1/24', '52:54:00:0a:00:01', 1, '5254000a00010001')
B1 = record('node-b', 1, 'eth1', '10.0.1.2/24', '52:54:00:0b:00:01', 1, '5254000b00010001')
A2 = record('node-a', 0, 'eth2', '10.0.2.1/24', '52:54:00:0a:00:02', 2, '5254000a00020002')
B2 = record('node-b', 1, 'eth2', '10.0.2.2/24', '52:54:00:0b:00:02', 2, '5254000b00020002')
C2 = record('node-c', 2, 'eth2', '10.0.2.3/24', '52:54:00:0c:00:02', 2, '5254000c00020002')
B3 = record('node-b', 0, 'eth3', None, '52:54:00:0b:00:03', 1, '5254000b00030001', mka_priority=0)
C3 = record('node-c', 1, 'eth3', None, '52:54:00:0c:00:03', 1, '5254000c00030001')
RACK1 = dict(KERNEL_DEFAULTS, macsec_ifname='msrack1-ab')
STORAGE = dict(KERNEL_DEFAULTS, cipher='gcm-aes-256', port=2, mtu=9000, macsec_ifname='msstorage')
MKA = dict(WPA_DEFAULTS, encrypt=False, macsec_ifname='msmka-bc')

THREE_HOSTS_EXPECTED = {
    'node-a': {'links': [
        {'name': 'rack1-ab', 'provider': 'kernel', 'options': RACK1, 'end': A1, 'peers': [B1]},
        {'name': 'storage', 'provider': 'kernel', 'options': STORAGE, 'end': A2, 'peers': [B2, C2]},
    ]},
    'node-b': {'links': [
        {'name': 'rack1-ab', 'provider': 'kernel', 'options': RACK1, 'end': B1, 'peers': [A1]},
        {'name': 'storage', 'provider': 'kernel', 'options': STORAGE, 'end': B2, 'peers': [A2, C2]},
        {'name': 'mka-bc', 'provider': 'wpa_supplicant', 'options': MKA, 'end': B3, 'peers': [C3]},
    ]},
    'node-c': {'links': [
        {'name': 'storage', 'provider': 'kernel', 'options': STORAGE, 'end': C2, 'peers': [A2, B2]},
        {'name': 'mka-bc', 'provider': 'wpa_supplicant', 'options': MKA, 'end': C3, 'peers': [B3]},
    ]},
}


def test_three_hosts_expand_to_the_expected_parts():
    case = load(CORPUS / 'good' / 'three_hosts.yml')
    assert topology.expand(case['macsec_links'], case['host_macs']) == THREE_HOSTS_EXPECTED


def test_expand_does_not_change_its_input():
    case = load(CORPUS / 'good' / 'three_hosts.yml')
    before = json.dumps(case, sort_keys=True)
    topology.expand(case['macsec_links'], case['host_macs'])
    assert json.dumps(case, sort_keys=True) == before


def test_expand_accepts_preflight_interface_entries():
    host_macs = {'node-a': {'eth1': {'mac': '52:54:00:0A:00:01', 'mtu': 1500}},
                 'node-b': {'eth1': {'mac': '52:54:00:0b:00:01', 'mtu': 1500}}}
    parts = topology.expand([kernel_link()], host_macs)
    assert parts['node-a']['links'][0]['end']['sci'] == '5254000a00010001'
    assert parts['node-a']['links'][0]['peers'][0]['mac'] == '52:54:00:0b:00:01'


def test_expand_gives_peers_the_explicit_keys_of_an_end():
    link = kernel_link(ends=[
        {'host': 'node-a', 'interface': 'eth1', 'sak': 'a' * 32, 'key_id': '01'},
        {'host': 'node-b', 'interface': 'eth1', 'sak': 'b' * 32},
    ])
    parts = topology.expand([link], {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth1': '52:54:00:0b:00:01'}})
    entry = parts['node-b']['links'][0]
    assert entry['end']['sak'] == 'b' * 32
    assert entry['peers'][0]['sak'] == 'a' * 32
    assert entry['peers'][0]['key_id'] == '01'
    assert 'key_id' not in entry['end']


def test_expand_leaves_out_hosts_outside_host_macs_but_keeps_them_as_peers():
    link = kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1'},
                             {'host': 'sw-1', 'interface': 'swp1', 'mac': '02:00:00:00:01:01', 'port': 9}])
    parts = topology.expand([link], {'node-a': {'eth1': '52:54:00:0a:00:01'}})
    assert list(parts) == ['node-a']
    assert parts['node-a']['links'][0]['peers'] == [
        record('sw-1', 1, 'swp1', None, '02:00:00:00:01:01', 9, '0200000001010009')]


def test_expand_gives_a_managed_host_without_links_an_empty_part():
    parts = topology.expand([kernel_link()], {'node-a': {'eth1': '52:54:00:0a:00:01'},
                                              'node-b': {'eth1': '52:54:00:0b:00:01'}, 'node-c': {}})
    assert parts['node-c'] == {'links': []}


# --- errors that need the hosts' MACs ---------------------------------------------------------------------------

def expand_errors(links, host_macs):
    with pytest.raises(topology.TopologyErrors) as raised:
        topology.expand(links, host_macs)
    return messages(raised.value.errors)


def test_expand_reports_a_missing_parent_nic_with_what_preflight_found():
    errors = expand_errors([kernel_link()], {'node-a': {'eth0': '52:54:00:0a:00:00', 'eth2': '52:54:00:0a:00:02'},
                                             'node-b': {'eth1': '52:54:00:0b:00:01'}})
    assert errors == ["macsec_links[rack1-ab].ends[0] (node-a).interface: is eth1, but node-a has no such parent NIC "
                      "(preflight found: eth0, eth2): fix the end's interface"]


def test_expand_reports_an_unmanaged_host_without_mac():
    errors = expand_errors([kernel_link()], {'node-a': {'eth1': '52:54:00:0a:00:01'}})
    assert len(errors) == 1
    assert errors[0].startswith('macsec_links[rack1-ab].ends[1] (node-b).mac: is unknown: node-b is not managed in '
                                'this run (left out by --limit')


def test_expand_refuses_a_mac_that_differs_from_the_hosts():
    link = kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1', 'mac': '52:54:00:0a:00:99'},
                             {'host': 'node-b', 'interface': 'eth1'}])
    errors = expand_errors([link], {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth1': '52:54:00:0b:00:01'}})
    assert errors == ["macsec_links[rack1-ab].ends[0] (node-a).mac: is 52:54:00:0a:00:99, but node-a reports "
                      "52:54:00:0a:00:01 for eth1: fix the end's mac, or remove it (a managed host's MAC is read "
                      "from the host)"]


def test_expand_refuses_a_nic_without_mac():
    errors = expand_errors([kernel_link()], {'node-a': {'eth1': None}, 'node-b': {'eth1': '52:54:00:0b:00:01'}})
    assert errors == ['macsec_links[rack1-ab].ends[0] (node-a).interface: is eth1, which node-a reports without a '
                      'usable MAC address (null): MACsec needs an Ethernet NIC']


def test_expand_finds_duplicate_scis_once_the_macs_are_known():
    # Two VLANs of one NIC share its MAC: with the same port their SCIs would be equal.
    links = [kernel_link('vlan100', ends=[{'host': 'node-a', 'interface': 'eth1.100'},
                                          {'host': 'node-b', 'interface': 'eth1.100'}]),
             kernel_link('vlan200', ends=[{'host': 'node-a', 'interface': 'eth1.200'},
                                          {'host': 'node-b', 'interface': 'eth1.200'}])]
    host_macs = {'node-a': {'eth1.100': '52:54:00:0a:00:01', 'eth1.200': '52:54:00:0a:00:01'},
                 'node-b': {'eth1.100': '52:54:00:0b:00:01', 'eth1.200': '52:54:00:0b:00:01'}}
    errors = expand_errors(links, host_macs)
    assert len(errors) == 2
    assert errors[0].startswith('macsec_links[vlan200].ends[0] (node-a).mac: gives SCI 5254000a00010001 (mac '
                                '52:54:00:0a:00:01, port 1), already the SCI of macsec_links[vlan100].ends[0] (node-a)')
    links[1]['port'] = 2
    assert topology.expand(links, host_macs)['node-a']['links'][1]['end']['sci'] == '5254000a00010002'


def test_expand_reports_static_errors_and_mac_errors_are_not_reached():
    errors = expand_errors([kernel_link(cipher='aes')], {'node-a': {}, 'node-b': {}})
    assert errors == ["macsec_links[rack1-ab].cipher: is 'aes': use one of gcm-aes-128 | gcm-aes-256 | "
                      "gcm-aes-xpn-128 | gcm-aes-xpn-256"]


def test_expand_collects_mac_errors_of_every_link():
    second = kernel_link('rack1-bc', ends=[{'host': 'node-b', 'interface': 'eth2'},
                                           {'host': 'node-c', 'interface': 'eth2'}])
    errors = expand_errors([kernel_link(), second], {'node-a': {}, 'node-b': {}, 'node-c': {}})
    assert [error.split(':')[0] for error in errors] == [
        'macsec_links[rack1-ab].ends[0] (node-a).interface', 'macsec_links[rack1-ab].ends[1] (node-b).interface',
        'macsec_links[rack1-bc].ends[0] (node-b).interface', 'macsec_links[rack1-bc].ends[1] (node-c).interface']


def test_expand_refuses_host_macs_of_the_wrong_type():
    with pytest.raises(TypeError):
        topology.expand([kernel_link()], ['node-a'])
    with pytest.raises(TypeError):
        topology.expand([kernel_link()], {'node-a': 'eth1'})


# --- derived names --------------------------------------------------------------------------------------------

def test_derived_macsec_ifname_of_a_short_name():
    assert topology.derive_macsec_ifname('rack1-ab') == 'msrack1-ab'
    assert topology.derive_macsec_ifname('Rack_1.AB') == 'msrack_1-ab'
    assert topology.derive_macsec_ifname('a' * 13) == 'ms' + 'a' * 13


def test_derived_macsec_ifname_of_long_names_is_valid_distinct_and_stable():
    first = topology.derive_macsec_ifname('datacenter1-row4-rack12-a')
    second = topology.derive_macsec_ifname('datacenter1-row4-rack12-b')
    assert first != second
    for name in (first, second):
        assert len(name) == 15
        assert name.startswith('msdatace')
        assert re.fullmatch(r'[a-z0-9_-]+', name)
        assert topology.ifname_problem(name) is None
    assert topology.derive_macsec_ifname('datacenter1-row4-rack12-a') == first
    # Case matters to the hash (names are case-sensitive) even where the readable prefix is the same.
    assert topology.derive_macsec_ifname('A' * 20) != topology.derive_macsec_ifname('a' * 20)


def test_derived_macsec_ifname_never_changes_between_releases():
    # Hosts carry interfaces with these names: a new derivation would orphan them. The value is docs/topology.md's.
    assert topology.derive_macsec_ifname('datacenter1-row4-rack12-a') == 'msdataces4ah4w4'


def test_sci_is_mac_then_port_in_16_hex_digits():
    assert topology.sci('52:54:00:AA:00:02', 1) == '525400aa00020001'
    assert topology.sci('52:54:00:aa:00:02', 65535) == '525400aa0002ffff'


def test_macsec_overhead():
    assert topology.macsec_overhead() == 32
    assert topology.macsec_overhead(send_sci=False, icv_len=8) == 16


def test_mtu_limit_follows_the_overhead():
    assert messages(topology.validate_links([kernel_link(mtu=65503)], DEFAULT_HOSTS)) == []
    assert len(topology.validate_links([kernel_link(mtu=65504)], DEFAULT_HOSTS)) == 1
    assert messages(topology.validate_links([kernel_link(mtu=65519, send_sci=False, icv_len=8)], DEFAULT_HOSTS)) == []
    assert len(topology.validate_links([kernel_link(mtu=65520, send_sci=False, icv_len=8)], DEFAULT_HOSTS)) == 1


# --- normalize ---------------------------------------------------------------------------------------------------

def test_normalize_kernel_link_fills_kernel_defaults_only():
    link = kernel_link(port=5)
    normalized = topology.normalize_link(link)
    assert normalized == dict(KERNEL_DEFAULTS, name='rack1-ab', provider='kernel', port=5,
                              macsec_ifname='msrack1-ab', ends=link['ends'])
    assert normalized['ends'][0] is not link['ends'][0]


def test_normalize_wpa_supplicant_link_fills_its_defaults_and_radius_port():
    link = {'name': 'mka', 'provider': 'wpa_supplicant', 'mode': 'eap', 'radius': {'host': '10.0.0.5'},
            'macsec_ifname': 'mka0', 'ends': []}
    assert topology.normalize_link(link) == dict(WPA_DEFAULTS, name='mka', provider='wpa_supplicant', mode='eap',
                                                 radius={'host': '10.0.0.5', 'port': 1812, 'server_host': None},
                                                 macsec_ifname='mka0',
                                                 ends=[])


def test_normalize_fills_ipsec_defaults():
    normalized = topology.normalize_link(kernel_link(ipsec={'auth': 'psk'}))
    assert normalized['ipsec'] == {'layering': 'ipsec_over_macsec', 'auth': 'psk', 'rekey_time': 3600,
                                   'ike_rekey_time': 14400, 'dpd_delay': 30, 'underlay_mtu': 1500}


def test_redact_link_replaces_key_material_only():
    link = topology.normalize_link(kernel_link(cipher='gcm-aes-xpn-128', salt='0' * 24, ends=[
        {'host': 'node-a', 'interface': 'eth1', 'sak': '1' * 32, 'key_id': '01', 'ssci': 1},
        {'host': 'node-b', 'interface': 'eth1', 'sak': '2' * 32, 'ssci': 2}]))
    redacted = topology.redact_link(link)
    text = json.dumps(redacted)
    for secret in ('0' * 24, '1' * 32, '2' * 32):
        assert secret not in text
    assert redacted['salt'] == topology.REDACTED
    assert redacted['ends'][0]['key_id'] == '01'
    assert link['ends'][0]['sak'] == '1' * 32  # the normalized link itself is untouched


def test_has_explicit_keys():
    assert not topology.has_explicit_keys([kernel_link()])
    assert topology.has_explicit_keys([kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1', 'sak': 'x'}])])
    assert topology.has_explicit_keys([{'name': 'm', 'provider': 'wpa_supplicant', 'ckn': '00'}])
    assert not topology.has_explicit_keys('not a list')


# --- validation details not covered by the corpus -------------------------------------------------------------------

def test_errors_come_in_inventory_order():
    links = [kernel_link('one', ends=[{'host': 'node-a', 'interface': 'eth1'}, {'host': 'nobody', 'interface': 'e'}]),
             kernel_link('two', cipher='x', ends=[{'host': 'node-b', 'interface': 'eth2'},
                                                  {'host': 'node-c', 'interface': 'eth2'}])]
    assert [error.path for error in topology.validate_links(links, DEFAULT_HOSTS)] == [
        'macsec_links[one].ends[1] (nobody).host', 'macsec_links[two].cipher']


def test_a_valid_end_of_an_unmanaged_host_gives_its_mac():
    link = kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1'},
                             {'host': 'sw-1', 'interface': 'swp1', 'mac': '02:00:00:00:01:01'}])
    assert messages(topology.validate_links([link], DEFAULT_HOSTS)) == []


def test_inventory_hosts_must_be_a_list():
    with pytest.raises(TypeError):
        topology.validate_links([], 'node-a')


def test_wpa_supplicant_2_11_honours_gcm_aes_256_and_offload_but_not_xpn():
    link = {'name': 'mka', 'provider': 'wpa_supplicant', 'cipher': 'gcm-aes-256', 'offload': 'mac',
            'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    assert len(topology.validate_links([link], DEFAULT_HOSTS)) == 2
    assert messages(topology.validate_links([link], DEFAULT_HOSTS, {'wpa_supplicant_version': '2.11'})) == []
    link['cipher'] = 'gcm-aes-xpn-256'
    errors = messages(topology.validate_links([link], DEFAULT_HOSTS, {'wpa_supplicant_version': '2.11'}))
    assert errors == ["macsec_links[mka].cipher: is 'gcm-aes-xpn-256', which wpa_supplicant 2.11 (Debian 13) cannot "
                      "honour: its MKA has no XPN cipher suites; remove it, or use `provider: kernel`"]


def test_validation_options_are_checked():
    with pytest.raises(ValueError):
        topology.validate_links([], [], {'wpa_supplicant_versoin': '2.10'})
    with pytest.raises(ValueError):
        topology.validate_links([], [], {'wpa_supplicant_version': '2.9'})


def test_a_quoted_number_where_an_integer_belongs_says_to_unquote_it():
    errors = messages(topology.validate_links([kernel_link(replay_window='32')], DEFAULT_HOSTS))
    assert errors == ['macsec_links[rack1-ab].replay_window: must be an integer from 0 to 4294967295, not a string '
                      '(write it without quotes)']


def test_interface_name_length_counts_bytes():
    assert topology.ifname_problem('é' * 8) is not None  # 16 bytes in UTF-8
    assert topology.ifname_problem('é' * 7) is None
    assert topology.ifname_problem('a' * 15) is None
    assert topology.ifname_problem('a' * 16) is not None


def test_mac_problem():
    assert topology.mac_problem('52:54:00:aa:00:02') is None
    assert topology.mac_problem('52:54:00:AA:00:02') is None
    assert 'multicast' in topology.mac_problem('03:00:00:00:00:01')
    assert 'all-zero' in topology.mac_problem('00:00:00:00:00:00')
    assert topology.mac_problem('52:54:00:aa:00') is not None
    assert topology.mac_problem(None) is not None


def test_eap_roles_are_not_judged_while_one_is_missing():
    # The missing role may be the authenticator: only the missing role is reported.
    link = {'name': 'mka', 'provider': 'wpa_supplicant', 'mode': 'eap', 'radius': {'host': 'r'},
            'ends': [{'host': 'node-a', 'interface': 'eth1', 'eap_role': 'supplicant'},
                     {'host': 'node-b', 'interface': 'eth1'}]}
    assert [error.path for error in topology.validate_links([link], DEFAULT_HOSTS)] == [
        'macsec_links[mka].ends[1] (node-b).eap_role']


def eap_link(**radius):
    return {'name': 'mka', 'provider': 'wpa_supplicant', 'mode': 'eap', 'radius': dict({'host': '10.0.0.5'}, **radius),
            'ends': [{'host': 'node-a', 'interface': 'eth1', 'eap_role': 'authenticator'},
                     {'host': 'node-b', 'interface': 'eth1', 'eap_role': 'supplicant'}]}


def ike_link(name='rack1-ab', auth='pubkey'):
    return kernel_link(name, ipsec={'auth': auth}, ends=[{'host': 'node-a', 'interface': 'eth1', 'address': '10.9.0.1/24'},
                                                         {'host': 'node-b', 'interface': 'eth1', 'address': '10.9.0.2/24'}])


def revoked(links, hosts):
    return messages(topology.validate_links(links, DEFAULT_HOSTS, {'revoked_hosts': hosts}))


def test_a_revoked_host_is_refused_where_a_link_needs_its_certificate():
    ike = ike_link()
    assert revoked([ike], ['node-b']) == [
        "macsec_links[rack1-ab].ends[1] (node-b).host: is node-b, whose certificates pki_revoked_hosts revokes: this "
        "link's IKE authenticates with certificates (ipsec.auth pubkey), so the end cannot: take the end out of the "
        "link (the whole link when it has two ends), or take node-b off pki_revoked_hosts (the next run issues it a "
        "new certificate)"]
    # The supplicant and the RADIUS server present certificates; the authenticator does not.
    errors = revoked([eap_link(server_host='node-c')], ['node-a', 'node-b', 'node-c'])
    assert [error.split(':')[0] for error in errors] == [
        'macsec_links[mka].ends[1] (node-b).host', 'macsec_links[mka].radius.server_host']
    assert 'an EAP-TLS supplicant authenticates with its certificate' in errors[0]


def test_a_revoked_host_on_links_without_certificates_is_not_refused():
    assert revoked([kernel_link()], ['node-a', 'node-b']) == []
    assert revoked([ike_link('psk-ab', 'psk')], ['node-a', 'node-b']) == []
    assert revoked([ike_link()], []) == []
    assert revoked([eap_link()], ['node-a']) == []  # the authenticator


def test_pki_revoked_hosts_must_be_a_list_of_host_names():
    for value in ('node-b', [None], ['']):
        assert revoked([ike_link()], value)[0].startswith(
            'pki_revoked_hosts: must be a list of inventory host names, not ')


def test_radius_server_host_is_an_inventory_host_and_reaches_the_plan():
    link = eap_link(server_host='node-c')
    assert messages(topology.validate_links([link], DEFAULT_HOSTS)) == []
    assert topology.normalize_link(link)['radius'] == {'host': '10.0.0.5', 'port': 1812, 'server_host': 'node-c'}
    parts = topology.expand([link], synthetic_host_macs([link]))
    assert parts['node-a']['links'][0]['options']['radius']['server_host'] == 'node-c'
    # Without server_host the RADIUS server is outside the inventory (not run by l2sec.macsec.freeradius).
    assert messages(topology.validate_links([eap_link()], DEFAULT_HOSTS)) == []


def test_radius_server_host_outside_the_inventory_is_refused_with_the_fix():
    errors = topology.validate_links([eap_link(server_host='node-cc')], DEFAULT_HOSTS)
    assert [error.path for error in errors] == ['macsec_links[mka].radius.server_host']
    assert errors[0].message == (
        "is 'node-cc', not an inventory host (did you mean node-c?): name the inventory host that runs FreeRADIUS "
        "for this link (role l2sec.macsec.freeradius), or remove server_host when the RADIUS server is outside the "
        "inventory")
    errors = topology.validate_links([eap_link(server_host='radius.example.org')], DEFAULT_HOSTS)
    assert 'did you mean' not in errors[0].message


@pytest.mark.parametrize('value, message', [
    ('', "must be a non-empty string, not ''"),
    (7, 'must be a non-empty string, not an integer'),
    (None, 'must be a non-empty string, not null'),
    ('node a', "is 'node a': remove the whitespace"),
])
def test_radius_server_host_must_be_a_host_name(value, message):
    errors = topology.validate_links([eap_link(server_host=value)], DEFAULT_HOSTS)
    # One error each: a value that failed its own check is not judged against the inventory as well.
    assert messages(errors) == ['macsec_links[mka].radius.server_host: ' + message]


def test_a_bad_value_does_not_cascade_into_rules():
    # An invalid cipher makes no statement about the sak length; an invalid replay_protect none about the window.
    link = kernel_link(cipher='aes', replay_protect='no', replay_window=8,
                       ends=[{'host': 'node-a', 'interface': 'eth1', 'sak': '1' * 32},
                             {'host': 'node-b', 'interface': 'eth1', 'sak': '2' * 64}])
    assert [error.path for error in topology.validate_links([link], DEFAULT_HOSTS)] == [
        'macsec_links[rack1-ab].cipher', 'macsec_links[rack1-ab].replay_protect']


def test_link_names_are_case_sensitive_but_never_alike():
    links = [kernel_link('a1'), kernel_link('A1', ends=[{'host': 'node-a', 'interface': 'eth2'},
                                                        {'host': 'node-c', 'interface': 'eth2'}])]
    assert [error.path for error in topology.validate_links(links, DEFAULT_HOSTS)] == ['macsec_links[A1].name']


def test_long_names_that_share_a_prefix_do_not_clash():
    links = [kernel_link('datacenter1-row4-rack%02d' % number,
                         ends=[{'host': 'node-a', 'interface': 'eth%d' % number},
                               {'host': 'node-b', 'interface': 'eth%d' % number}]) for number in range(40)]
    assert messages(topology.validate_links(links, DEFAULT_HOSTS)) == []


# --- errors, providers, version ---------------------------------------------------------------------------------

def test_validation_error_and_topology_errors_render_one_per_line():
    first = topology.ValidationError('macsec_links[a].cipher', 'is bad: fix it')
    second = topology.ValidationError('macsec_links[b].port', 'is 0: use 1')
    assert str(first) == 'macsec_links[a].cipher: is bad: fix it'
    assert first == topology.ValidationError('macsec_links[a].cipher', 'is bad: fix it')
    assert str(topology.TopologyErrors([first, second])) == (
        'macsec_links[a].cipher: is bad: fix it\nmacsec_links[b].port: is 0: use 1')


def test_providers_list_the_options_they_accept():
    kernel = topology.PROVIDERS['kernel']
    wpa = topology.PROVIDERS['wpa_supplicant']
    assert 'salt' in kernel['link_options'] and 'cak' not in kernel['link_options']
    assert 'sak' in kernel['end_options'] and 'eap_role' not in kernel['end_options']
    assert {'mode', 'cak', 'ckn', 'radius'} <= set(wpa['link_options']) and 'send_sci' not in wpa['link_options']
    assert 'mka_priority' in wpa['end_options'] and 'sak' not in wpa['end_options']
    assert kernel['available'] is True and wpa['available'] is True


def test_check_providers_available_reports_each_link_of_a_missing_provider(monkeypatch):
    links = [kernel_link(), {'name': 'mka', 'provider': 'wpa_supplicant'}, 'not a link', {'provider': 'kernel'}]
    assert topology.check_providers_available(links) == []  # every provider of this release is available
    monkeypatch.setitem(topology.PROVIDERS['wpa_supplicant'], 'available', False)
    monkeypatch.setitem(topology.PROVIDERS['kernel'], 'available', False)
    errors = topology.check_providers_available(links)
    assert [error.path for error in errors] == ['macsec_links[rack1-ab].provider', 'macsec_links[mka].provider',
                                                'macsec_links[3].provider']
    assert errors[0].message.startswith("provider 'kernel' is not available yet in l2sec.macsec %s: "
                                        % topology.COLLECTION_VERSION)
    monkeypatch.setitem(topology.PROVIDERS['kernel'], 'available', True)
    assert [error.path for error in topology.check_providers_available(links)] == ['macsec_links[mka].provider']


def test_collection_version_matches_galaxy_yml():
    assert load(COLLECTION / 'galaxy.yml')['version'] == topology.COLLECTION_VERSION


# --- with_retired_generations: the effective generation ---------------------------------------------------------

def test_a_link_goes_one_above_the_highest_generation_its_ends_retired():
    links = [kernel_link(generation=2)]
    result, moved = topology.with_retired_generations(links, {'node-a': {'rack1-ab': 2}, 'node-b': {'rack1-ab': 4}})
    assert moved == {'rack1-ab': (2, 5)}
    assert result == [kernel_link(generation=5)]
    assert links == [kernel_link(generation=2)]  # the input is not changed


def test_a_link_without_generation_counts_as_generation_1():
    result, moved = topology.with_retired_generations([kernel_link()], {'node-b': {'rack1-ab': 1}})
    assert moved == {'rack1-ab': (1, 2)} and result[0]['generation'] == 2


def test_a_generation_above_what_was_retired_is_kept_and_never_lowered():
    links = [kernel_link(generation=7), kernel_link('rack1-bc', generation=3)]
    result, moved = topology.with_retired_generations(links, {'node-a': {'rack1-ab': 6, 'rack1-bc': 1}})
    assert moved == {} and result == links


def test_a_retired_generation_equal_to_the_inventorys_moves_the_link():
    result, moved = topology.with_retired_generations([kernel_link(generation=3)], {'node-a': {'rack1-ab': 3}})
    assert moved == {'rack1-ab': (3, 4)} and result[0]['generation'] == 4


def test_only_the_ends_hosts_and_the_links_own_name_count():
    links = [kernel_link(generation=1), kernel_link('rack1-bc', generation=1, ends=[
        {'host': 'node-b', 'interface': 'eth2'}, {'host': 'node-c', 'interface': 'eth2'}])]
    retired = {'node-c': {'rack1-ab': 9}, 'node-a': {'rack1-bc': 8, 'rack1-xy': 7}, 'node-b': {'rack1-bc': 2}}
    result, moved = topology.with_retired_generations(links, retired)
    assert moved == {'rack1-bc': (1, 3)}
    assert [link['generation'] for link in result] == [1, 3]


def test_retired_values_that_are_not_integers_are_ignored():
    result, moved = topology.with_retired_generations([kernel_link()], {'node-a': {'rack1-ab': '5'},
                                                                        'node-b': {'rack1-ab': None}})
    assert moved == {} and result == [kernel_link()]


MALFORMED = [
    ('generation a string', kernel_link(generation='2')),
    ('generation a boolean', kernel_link(generation=True)),
    ('generation a float', kernel_link(generation=2.0)),
    ('no name', {key: value for key, value in kernel_link().items() if key != 'name'}),
    ('not a mapping', ['rack1-ab']),
]


@pytest.mark.parametrize('link', [case[1] for case in MALFORMED], ids=[case[0] for case in MALFORMED])
def test_malformed_links_are_left_for_validation(link):
    result, moved = topology.with_retired_generations([link], {'node-a': {'rack1-ab': 5}})
    assert moved == {} and result == [link] and result[0] is link


def test_ends_that_are_not_mappings_are_skipped():
    link = kernel_link(ends=['node-a', {'host': 'node-b', 'interface': 'eth1'}])
    result, moved = topology.with_retired_generations([link], {'node-a': {'rack1-ab': 5}, 'node-b': {'rack1-ab': 2}})
    assert moved == {'rack1-ab': (1, 3)}
    link = kernel_link(ends=None)
    assert topology.with_retired_generations([link], {'node-a': {'rack1-ab': 5}}) == ([link], {})


def test_links_that_are_not_a_list_are_left_alone():
    links = {'rack1-ab': kernel_link()}
    assert topology.with_retired_generations(links, {'node-a': {'rack1-ab': 5}}) == (links, {})
    assert topology.with_retired_generations(None, {}) == (None, {})


def test_nothing_retired_moves_nothing():
    links = [kernel_link(generation=4)]
    assert topology.with_retired_generations(links, {}) == (links, {})
