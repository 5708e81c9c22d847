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
