# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The topology's side of `ipsec.layering: macsec_over_ipsec` (plugins/module_utils/_topology.py): the tunnel's MTU
leaves room for the outer IP header, ESP, GRE and Ethernet; each end's tunnel gets a stable, locally administered
MAC (hence its SCI) that the host never has to report; tunnel_spec() is macsec_secy's `tunnel` option; and the new
rules name the field to fix."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology as topology

HOSTS = ['node-a', 'node-b', 'node-c']
# What preflight reports: the NICs only. No host has the tunnel (gt1) yet: the collection makes it.
HOST_MACS = {'node-a': {'eth0': '52:54:00:0a:00:01'}, 'node-b': {'eth0': '52:54:00:0b:00:01'}}
HOST_UNDERLAYS = {'node-a': '192.0.2.1', 'node-b': '192.0.2.2'}


def tunnel_link(name='wan-ab', ends=None, ipsec=None, **options):
    """A macsec_over_ipsec link between node-a and node-b, over IPv4 underlays."""
    link = {'name': name, 'provider': 'kernel',
            'ipsec': dict({'layering': 'macsec_over_ipsec'}, **(ipsec or {})),
            'ends': ends if ends is not None else [
                {'host': 'node-a', 'interface': 'gt1', 'underlay': '192.0.2.1'},
                {'host': 'node-b', 'interface': 'gt1', 'underlay': '192.0.2.2'}]}
    link.update(options)
    return link


def errors_of(links, hosts=None):
    return topology.validate_links(links, hosts or HOSTS)


def paths(errors):
    return [error.path for error in errors]


def entry_of(parts, host, name='wan-ab'):
    return [entry for entry in parts[host]['links'] if entry['name'] == name][0]


# ---------------------------------------------------------------------------------------------------------------
# tunnel_mtu: what is left of the underlay's MTU

def test_an_ipv4_tunnel_leaves_the_underlay_mtu_less_ip_esp_gre_and_ethernet():
    assert topology.tunnel_mtu(1500) == 1500 - 20 - 37 - 4 - 14 == 1425
    assert topology.tunnel_mtu(9000) == 8925


def test_an_ipv6_tunnel_also_pays_the_bigger_header_and_the_encapsulation_limit():
    assert topology.tunnel_mtu(1500, ipv6=True) == 1500 - 40 - 8 - 37 - 4 - 14 == 1397
    assert topology.tunnel_mtu(1500) - topology.tunnel_mtu(1500, ipv6=True) == 20 + 8


def test_the_tunnel_mtu_follows_the_underlay_byte_for_byte():
    for underlay in (1280, 1500, 1501, 9000, 65535):
        assert topology.tunnel_mtu(underlay + 1) == topology.tunnel_mtu(underlay) + 1
        assert topology.tunnel_mtu(underlay, True) == topology.tunnel_mtu(underlay) - 28


# ---------------------------------------------------------------------------------------------------------------
# derive_tunnel_mac

def test_the_tunnel_mac_is_stable():
    assert topology.derive_tunnel_mac('wan-ab', 'node-a') == topology.derive_tunnel_mac('wan-ab', 'node-a')


@pytest.mark.parametrize('link, host', [('wan-ab', 'node-a'), ('wan-ab', 'node-b'), ('wan.ab', 'node-a'),
                                        ('x', 'y'), ('a-very-long-link-name-' * 3, 'host.example.org')])
def test_the_tunnel_mac_is_a_locally_administered_unicast_mac(link, host):
    mac = topology.derive_tunnel_mac(link, host)
    assert topology.mac_problem(mac) is None
    assert mac == mac.lower()
    first = int(mac[:2], 16)
    assert first & 0x01 == 0  # unicast
    assert first & 0x02 == 0x02  # locally administered: never a NIC's burned-in address
    assert mac.startswith('02:')


def test_the_tunnel_mac_differs_per_host_and_per_link():
    macs = {topology.derive_tunnel_mac(link, host) for link in ('wan-ab', 'wan-ac', 'wan.ab', 'lan')
            for host in HOSTS}
    assert len(macs) == 4 * len(HOSTS)
    # The link and the host are kept apart: moving a character from one to the other gives another MAC.
    assert topology.derive_tunnel_mac('wan-a', 'bnode') != topology.derive_tunnel_mac('wan-ab', 'node')


def test_is_tunnel_link_only_for_macsec_over_ipsec():
    assert topology.is_tunnel_link({'layering': 'macsec_over_ipsec'}) is True
    for ipsec in ({'layering': 'ipsec_over_macsec'}, {}, None, 'macsec_over_ipsec', ['macsec_over_ipsec']):
        assert topology.is_tunnel_link(ipsec) is False


# ---------------------------------------------------------------------------------------------------------------
# expand(): the SCI of a tunnel end comes from the tunnel's MAC, never from the host's report

def test_a_tunnel_end_needs_no_reported_interface_and_gets_its_sci_from_the_derived_mac():
    parts = topology.expand([tunnel_link()], HOST_MACS)
    for host, peer in (('node-a', 'node-b'), ('node-b', 'node-a')):
        entry = entry_of(parts, host)
        mac = topology.derive_tunnel_mac('wan-ab', host)
        assert entry['end']['mac'] == mac
        assert entry['end']['sci'] == mac.replace(':', '') + '0001'
        assert entry['end']['interface'] == 'gt1' and entry['end']['underlay'] == HOST_UNDERLAYS[host]
        assert entry['peers'][0]['sci'] == topology.derive_tunnel_mac('wan-ab', peer).replace(':', '') + '0001'
    # Not the NIC's MAC, though the host reported one.
    assert '52540' not in entry_of(parts, 'node-a')['end']['sci']


def test_a_tunnel_ends_given_mac_is_its_sci_and_is_lowercased():
    ends = [{'host': 'node-a', 'interface': 'gt1', 'underlay': '192.0.2.1', 'mac': '02:AA:BB:CC:DD:01', 'port': 7},
            {'host': 'node-b', 'interface': 'gt1', 'underlay': '192.0.2.2'}]
    parts = topology.expand([tunnel_link(ends=ends)], HOST_MACS)
    end = entry_of(parts, 'node-a')['end']
    assert (end['mac'], end['sci']) == ('02:aa:bb:cc:dd:01', '02aabbccdd010007')
    assert entry_of(parts, 'node-b')['peers'][0]['sci'] == '02aabbccdd010007'
    assert entry_of(parts, 'node-b')['end']['mac'] == topology.derive_tunnel_mac('wan-ab', 'node-b')


def test_a_tunnel_end_of_a_host_outside_the_run_still_has_its_mac():
    # node-b is not managed in this run (no host_macs entry) and gives no mac: its tunnel's MAC is still known.
    parts = topology.expand([tunnel_link()], {'node-a': HOST_MACS['node-a']})
    assert entry_of(parts, 'node-a')['peers'][0]['mac'] == topology.derive_tunnel_mac('wan-ab', 'node-b')


def test_a_nic_end_with_a_missing_interface_still_errors():
    link = {'name': 'lan-ab', 'provider': 'kernel',
            'ends': [{'host': 'node-a', 'interface': 'gt1'}, {'host': 'node-b', 'interface': 'eth0'}]}
    with pytest.raises(topology.TopologyErrors) as caught:
        topology.expand([link], HOST_MACS)
    assert paths(caught.value.errors) == ['macsec_links[lan-ab].ends[0] (node-a).interface']
    assert 'node-a has no such parent NIC' in str(caught.value)


def test_an_ipsec_over_macsec_end_with_a_missing_interface_still_errors():
    link = {'name': 'lan-ab', 'provider': 'kernel', 'ipsec': {'layering': 'ipsec_over_macsec'},
            'ends': [{'host': 'node-a', 'interface': 'gt1', 'address': '10.0.0.1/30'},
                     {'host': 'node-b', 'interface': 'eth0', 'address': '10.0.0.2/30'}]}
    with pytest.raises(topology.TopologyErrors) as caught:
        topology.expand([link], HOST_MACS)
    assert paths(caught.value.errors) == ['macsec_links[lan-ab].ends[0] (node-a).interface']


def test_tunnel_and_nic_links_expand_side_by_side():
    lan = {'name': 'lan-ab', 'provider': 'kernel',
           'ends': [{'host': 'node-a', 'interface': 'eth0'}, {'host': 'node-b', 'interface': 'eth0'}]}
    parts = topology.expand([lan, tunnel_link()], HOST_MACS)
    assert [entry['name'] for entry in parts['node-a']['links']] == ['lan-ab', 'wan-ab']
    assert entry_of(parts, 'node-a', 'lan-ab')['end']['mac'] == '52:54:00:0a:00:01'
    assert entry_of(parts, 'node-a')['end']['mac'] == topology.derive_tunnel_mac('wan-ab', 'node-a')


# ---------------------------------------------------------------------------------------------------------------
# tunnel_spec: macsec_secy's `tunnel` option

def test_tunnel_spec_runs_from_the_ends_underlay_to_the_peers_with_the_ends_mac():
    parts = topology.expand([tunnel_link()], HOST_MACS)
    for host, peer in (('node-a', 'node-b'), ('node-b', 'node-a')):
        entry = entry_of(parts, host)
        assert topology.tunnel_spec(entry) == {'local': HOST_UNDERLAYS[host], 'remote': HOST_UNDERLAYS[peer],
                                               'address': entry['end']['mac'], 'mtu': 1425}


def test_tunnel_spec_takes_the_mtu_from_the_underlay_mtu():
    parts = topology.expand([tunnel_link(ipsec={'underlay_mtu': 9000})], HOST_MACS)
    assert topology.tunnel_spec(entry_of(parts, 'node-a'))['mtu'] == topology.tunnel_mtu(9000) == 8925


def test_tunnel_spec_of_an_ipv6_underlay_pays_the_ipv6_headers():
    ends = [{'host': 'node-a', 'interface': 'gt1', 'underlay': '2001:db8::1'},
            {'host': 'node-b', 'interface': 'gt1', 'underlay': '2001:db8::2'}]
    spec = topology.tunnel_spec(entry_of(topology.expand([tunnel_link(ends=ends)], HOST_MACS), 'node-b'))
    assert spec['local'] == '2001:db8::2' and spec['remote'] == '2001:db8::1'
    assert spec['mtu'] == topology.tunnel_mtu(1500, ipv6=True) == 1397


def test_tunnel_spec_is_none_for_the_other_layerings():
    inside = {'name': 'ike-in', 'provider': 'kernel', 'ipsec': {'layering': 'ipsec_over_macsec'},
              'ends': [{'host': 'node-a', 'interface': 'eth0', 'address': '10.0.0.1/30'},
                       {'host': 'node-b', 'interface': 'eth0', 'address': '10.0.0.2/30'}]}
    plain = {'name': 'plain', 'provider': 'kernel', 'ipsec': None,
             'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    macs = {'node-a': {'eth0': '52:54:00:0a:00:01', 'eth1': '52:54:00:0a:00:02'},
            'node-b': {'eth0': '52:54:00:0b:00:01', 'eth1': '52:54:00:0b:00:02'}}
    parts = topology.expand([inside, plain], macs)
    assert [topology.tunnel_spec(entry) for entry in parts['node-a']['links']] == [None, None]


def test_tunnel_spec_is_what_macsec_secy_accepts():
    entry = entry_of(topology.expand([tunnel_link()], HOST_MACS), 'node-a')
    spec = _secy.normalize_spec({'name': 'mswan-ab', 'parent': entry['end']['interface'],
                                 'tunnel': topology.tunnel_spec(entry)}, lambda key: '00' * 16)
    assert spec['tunnel'] == dict(topology.tunnel_spec(entry), kind='gretap')


# ---------------------------------------------------------------------------------------------------------------
# The new rules: each error names the field

def test_a_valid_tunnel_link_has_no_error():
    assert errors_of([tunnel_link()]) == []
    assert errors_of([tunnel_link(mtu=1393)]) == []


def test_a_tunnel_link_with_three_ends_is_refused_on_its_ends():
    ends = [{'host': host, 'interface': 'gt1', 'underlay': '192.0.2.%d' % number}
            for number, host in enumerate(HOSTS, 1)]
    errors = errors_of([tunnel_link(ends=ends)])
    assert paths(errors) == ['macsec_links[wan-ab].ends']
    assert errors[0].message.startswith('has 3 ends, but `ipsec.layering: macsec_over_ipsec` runs a point-to-point '
                                        'GRETAP tunnel')


def test_ipsec_over_macsec_may_have_three_ends():
    ends = [{'host': host, 'interface': 'eth1', 'address': '10.0.0.%d/24' % number}
            for number, host in enumerate(HOSTS, 1)]
    link = {'name': 'seg', 'provider': 'kernel', 'ipsec': {'layering': 'ipsec_over_macsec'}, 'ends': ends}
    assert errors_of([link]) == []


def test_underlays_of_two_families_are_refused_on_the_ends():
    ends = [{'host': 'node-a', 'interface': 'gt1', 'underlay': '192.0.2.1'},
            {'host': 'node-b', 'interface': 'gt1', 'underlay': '2001:db8::2'}]
    errors = errors_of([tunnel_link(ends=ends)])
    assert paths(errors) == ['macsec_links[wan-ab].ends']
    assert 'mix IPv4 and IPv6 underlays' in errors[0].message


@pytest.mark.parametrize('options, underlays, room', [
    ({}, ('192.0.2.1', '192.0.2.2'), 1393),
    ({}, ('2001:db8::1', '2001:db8::2'), 1365),
    ({'icv_len': 8, 'send_sci': False}, ('192.0.2.1', '192.0.2.2'), 1409),
    ({'ipsec': {'layering': 'macsec_over_ipsec', 'underlay_mtu': 9000}}, ('192.0.2.1', '192.0.2.2'), 8893),
], ids=['ipv4', 'ipv6', 'short-sectag-and-icv', 'jumbo-underlay'])
def test_an_mtu_too_big_for_the_tunnel_is_refused_on_the_mtu(options, underlays, room):
    ends = [{'host': host, 'interface': 'gt1', 'underlay': underlay} for host, underlay in zip(HOSTS, underlays)]
    assert errors_of([tunnel_link(ends=ends, mtu=room, **options)]) == []
    errors = errors_of([tunnel_link(ends=ends, mtu=room + 1, **options)])
    assert paths(errors) == ['macsec_links[wan-ab].mtu']
    underlay_mtu = options.get('ipsec', {}).get('underlay_mtu', 1500)
    assert errors[0].message.startswith('is %d, but over an underlay MTU of %d the tunnel leaves %d bytes for the '
                                        'macsec interface' % (room + 1, underlay_mtu, room))
    assert 'use at most %d' % room in errors[0].message


def test_the_room_for_the_mtu_is_the_tunnel_mtu_less_the_macsec_overhead():
    for ipv6, underlays in ((False, ('192.0.2.1', '192.0.2.2')), (True, ('2001:db8::1', '2001:db8::2'))):
        room = topology.tunnel_mtu(1500, ipv6) - topology.macsec_overhead()
        ends = [{'host': host, 'interface': 'gt1', 'underlay': underlay} for host, underlay in zip(HOSTS, underlays)]
        assert ipaddress.ip_address(underlays[0]).version == (6 if ipv6 else 4)
        assert errors_of([tunnel_link(ends=ends, mtu=room)]) == []
        assert paths(errors_of([tunnel_link(ends=ends, mtu=room + 1)])) == ['macsec_links[wan-ab].mtu']


def test_an_mtu_is_not_checked_against_a_tunnel_on_other_layerings():
    link = {'name': 'ike-in', 'provider': 'kernel', 'mtu': 9000, 'ipsec': {'layering': 'ipsec_over_macsec'},
            'ends': [{'host': 'node-a', 'interface': 'eth0', 'address': '10.0.0.1/30'},
                     {'host': 'node-b', 'interface': 'eth0', 'address': '10.0.0.2/30'}]}
    assert errors_of([link]) == []


def test_an_ipsec_over_macsec_end_without_an_address_is_refused_on_its_address():
    link = {'name': 'ike-in', 'provider': 'kernel', 'ipsec': {'layering': 'ipsec_over_macsec'},
            'ends': [{'host': 'node-a', 'interface': 'eth0', 'address': '10.0.0.1/30'},
                     {'host': 'node-b', 'interface': 'eth0'}, {'host': 'node-c', 'interface': 'eth0'}]}
    errors = errors_of([link])
    assert paths(errors) == ['macsec_links[ike-in].ends[1] (node-b).address',
                             'macsec_links[ike-in].ends[2] (node-c).address']
    assert errors[0].message.startswith('is missing: with `ipsec.layering: ipsec_over_macsec` IKE and ESP run between '
                                        'the ends\' addresses')


def test_the_default_layering_needs_the_addresses_too():
    link = {'name': 'ike-in', 'provider': 'kernel', 'ipsec': {'auth': 'psk'},
            'ends': [{'host': 'node-a', 'interface': 'eth0'}, {'host': 'node-b', 'interface': 'eth0'}]}
    assert paths(errors_of([link])) == ['macsec_links[ike-in].ends[0] (node-a).address',
                                        'macsec_links[ike-in].ends[1] (node-b).address']


def test_a_link_without_ipsec_needs_no_address():
    link = {'name': 'plain', 'provider': 'kernel',
            'ends': [{'host': 'node-a', 'interface': 'eth0'}, {'host': 'node-b', 'interface': 'eth0'}]}
    assert errors_of([link]) == []


@pytest.mark.parametrize('option, value', [('rekey_time', 9), ('rekey_time', 7 * 86400 + 1),
                                           ('ike_rekey_time', 9), ('dpd_delay', -1), ('dpd_delay', 3601),
                                           ('underlay_mtu', 1279), ('underlay_mtu', 65536),
                                           ('underlay_mtu', '1500')])
def test_the_new_ipsec_options_are_range_checked_on_their_field(option, value):
    errors = errors_of([tunnel_link(ipsec={option: value})])
    assert paths(errors) == ['macsec_links[wan-ab].ipsec.%s' % option]


def test_the_new_ipsec_options_get_their_defaults():
    entry = entry_of(topology.expand([tunnel_link()], HOST_MACS), 'node-a')
    ipsec = entry['options']['ipsec']
    assert (ipsec['rekey_time'], ipsec['ike_rekey_time'], ipsec['dpd_delay'], ipsec['underlay_mtu']) == (
        3600, 14400, 30, 1500)
