# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.l2sec.macsec.plugins.filter import topology as topology_filter

LINK = {'name': 'rack1-ab', 'provider': 'kernel',
        'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
MACS = {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth1': '52:54:00:0b:00:01'}}


def test_filters_are_registered_under_their_names():
    filters = topology_filter.FilterModule().filters()
    assert filters['macsec_validate'] is topology_filter.macsec_validate
    assert filters['macsec_host_parts'] is topology_filter.macsec_host_parts
    assert filters['macsec_ssh_may_cross'] is topology_filter.macsec_ssh_may_cross


def test_validate_returns_an_empty_list_for_a_valid_topology():
    assert topology_filter.macsec_validate([LINK], ['node-a', 'node-b']) == []


def test_validate_returns_every_error_as_a_string():
    links = [dict(LINK, ciphr='gcm-aes-256'), 'oops']
    assert topology_filter.macsec_validate(links, ['node-a']) == [
        'macsec_links[rack1-ab].ciphr: is not an option of a link; did you mean `cipher`? (unknown options are '
        'refused so that a typo cannot silently weaken a link)',
        "macsec_links[rack1-ab].ends[1] (node-b).host: is not an inventory host (did you mean node-a?) and the end "
        "gives no mac: fix the host, or give the end's mac for an end that this run does not manage (a switch, a "
        "host outside the inventory)",
        'macsec_links[1]: must be a mapping with name, provider and ends, not a string',
    ]


def test_validate_reports_links_that_are_not_a_list_instead_of_failing():
    assert topology_filter.macsec_validate({'name': 'x'}, []) == [
        'macsec_links: must be a list of links, not a mapping: see docs/topology.md']


def test_validate_fails_only_for_hosts_of_the_wrong_type():
    with pytest.raises(AnsibleFilterError, match='inventory_hosts must be a list'):
        topology_filter.macsec_validate([LINK], 'node-a')


def test_host_parts_expands_per_host():
    parts = topology_filter.macsec_host_parts([LINK], MACS)
    assert sorted(parts) == ['node-a', 'node-b']
    assert parts['node-b']['links'][0]['end']['sci'] == '5254000b00010001'
    assert parts['node-b']['links'][0]['peers'][0]['host'] == 'node-a'


def test_host_parts_fails_listing_every_error_of_an_invalid_topology():
    with pytest.raises(AnsibleFilterError) as raised:
        topology_filter.macsec_host_parts([dict(LINK, port=0, encrypt='no')], MACS)
    assert 'macsec_links has 2 error(s):\n' in str(raised.value)
    assert 'macsec_links[rack1-ab].port: is 0' in str(raised.value)
    assert 'macsec_links[rack1-ab].encrypt: must be true or false' in str(raised.value)


def test_host_parts_never_puts_keys_in_its_error():
    link = dict(LINK, ends=[{'host': 'node-a', 'interface': 'eth1', 'sak': 'c0ffee' * 5 + 'zz'},
                            {'host': 'node-b', 'interface': 'eth1', 'sak': 'c0ffee' * 5 + 'aa'}])
    with pytest.raises(AnsibleFilterError) as raised:
        topology_filter.macsec_host_parts([link], MACS)
    assert 'c0ffee' not in str(raised.value)
    assert 'sak: is malformed' in str(raised.value)


@pytest.mark.parametrize('host_macs', [['node-a'], {'node-a': ['eth1']}, None])
def test_host_parts_fails_for_host_macs_of_the_wrong_type(host_macs):
    with pytest.raises(AnsibleFilterError, match='host_macs must be a mapping'):
        topology_filter.macsec_host_parts([LINK], host_macs)


# macsec_ssh_may_cross: whether the controller's SSH to a host may run across one of its links

may_cross = topology_filter.macsec_ssh_may_cross
ADDRESSES = ['192.0.2.1', '10.0.1.1/24', 'fd00:1::1/64', '']


@pytest.mark.parametrize('ssh_host', ['192.0.2.1', '10.0.1.1', 'fd00:1::1'])
def test_ssh_to_one_of_the_links_addresses_may_cross_it(ssh_host):
    assert may_cross(ssh_host, ADDRESSES) is True


@pytest.mark.parametrize('ssh_host', ['198.51.100.7', '10.0.1.10', '10.0.1.1/24', 'node-a', '', 'fd00:1::'])
def test_ssh_to_another_address_or_a_name_does_not(ssh_host):
    assert may_cross(ssh_host, ADDRESSES) is False
    assert may_cross(ssh_host, ADDRESSES, '-o ControlMaster=auto -o ControlPersist=60s') is False


@pytest.mark.parametrize('ssh_host', ['FD00:1::1', 'fd00:1:0:0::1', '[fd00:1::1]'])
def test_an_ipv6_address_matches_in_any_spelling(ssh_host):
    assert may_cross(ssh_host, ADDRESSES) is True


@pytest.mark.parametrize('ssh_args', ['-o ProxyJump=bastion', '-o ProxyCommand="ssh -W %h:%p node-b"',
                                      '-oproxyjump=bastion', '-o PROXYCOMMAND=nc', '-J bastion', '-Jbastion',
                                      '-o ControlPersist=60s -J user@bastion:2222'])
def test_ssh_through_a_proxy_may_cross_any_link(ssh_args):
    # The proxy may be the peer across the link: the controller cannot tell.
    assert may_cross('198.51.100.7', ADDRESSES, ssh_args) is True
    assert may_cross('node-a', [], ssh_args) is True


@pytest.mark.parametrize('ssh_args', ['', None, '-o ControlMaster=auto', '-o IdentityFile=/keys/Jump-key'])
def test_no_ssh_args_is_no_proxy(ssh_args):
    assert may_cross('198.51.100.7', ['192.0.2.1'], ssh_args) is False


def test_addresses_left_empty_by_a_default_match_nothing():
    assert may_cross('', ['', None]) is False
    assert may_cross('None', [None]) is False
    assert may_cross('192.0.2.1', ()) is False


@pytest.mark.parametrize('addresses', ['192.0.2.1', None, {'192.0.2.1': 1}])
def test_addresses_that_are_not_a_list_are_refused(addresses):
    with pytest.raises(AnsibleFilterError, match='macsec_ssh_may_cross: give the addresses as a list'):
        may_cross('192.0.2.1', addresses)
