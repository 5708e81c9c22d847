# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The strongSwan layering's filters: a host's plan entry of a link with `ipsec` becomes its swanctl connections
(plugins/filter/strongswan.py: one per peer, the first end initiates, IKE between the addresses on the macsec
interface or between the underlays with only GRE in ESP, the peer's link address probed); what macsec_ike_health
checks of them, the links whose swanctl file changed, and the controller's verdict on those links from every end's
health check (commit-confirmed swanctl files); the tunnels of macsec_over_ipsec are no NICs that preflight must
find (plugins/filter/topology.py: macsec_parent_nics); and the kernel and MKA filters hand macsec_secy the tunnel
under the SecY."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.l2sec.macsec.plugins.filter import kernel as kernel_filter
from ansible_collections.l2sec.macsec.plugins.filter import mka as mka_filter
from ansible_collections.l2sec.macsec.plugins.filter import strongswan as strongswan_filter
from ansible_collections.l2sec.macsec.plugins.filter import topology as topology_filter
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology
from ansible_collections.l2sec.macsec.tests.unit.plugins.filter.test_kernel_filter import MASTER, module_params

connections_of = strongswan_filter.macsec_ipsec_connections

MACS = {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth1': '52:54:00:0b:00:01'},
        'node-c': {'eth1': '52:54:00:0c:00:01'}}
ADDRESSES = {'node-a': '10.0.1.1/24', 'node-b': '10.0.1.2/24', 'node-c': '10.0.1.3/24'}
UNDERLAYS = {'node-a': '192.0.2.1', 'node-b': '192.0.2.2', 'node-c': '192.0.2.3'}


def inside_link(hosts=('node-a', 'node-b'), name='ike-in', addresses=None, **ipsec):
    """ipsec_over_macsec: IKE and ESP between the ends' addresses on the macsec interface."""
    addresses = addresses or ADDRESSES
    return {'name': name, 'provider': 'kernel', 'ipsec': dict({'layering': 'ipsec_over_macsec'}, **ipsec),
            'ends': [{'host': host, 'interface': 'eth1', 'address': addresses[host]} for host in hosts]}


def outside_link(hosts=('node-a', 'node-b'), name='ike-out', underlays=None, provider='kernel', **ipsec):
    """macsec_over_ipsec: a GRETAP tunnel between the underlays, its GRE packets in ESP, the SecY on it."""
    underlays = underlays or UNDERLAYS
    return {'name': name, 'provider': provider, 'ipsec': dict({'layering': 'macsec_over_ipsec'}, **ipsec),
            'ends': [{'host': host, 'interface': 'gt1', 'underlay': underlays[host]} for host in hosts]}


def entry(link, host):
    """The host's plan entry of the link (macsec_topology phase=plan), as the roles have it."""
    macs = {end['host']: MACS[end['host']] for end in link['ends']}
    return _topology.expand([link], macs)[host]['links'][0]


def by_peer(connections):
    return {connection['peer']: connection for connection in connections}


def test_the_filters_are_registered():
    assert strongswan_filter.FilterModule().filters() == {
        'macsec_ipsec_connections': connections_of,
        'macsec_ike_health_connections': strongswan_filter.macsec_ike_health_connections,
        'macsec_ipsec_connection_pattern': strongswan_filter.macsec_ipsec_connection_pattern,
        'macsec_ike_changed_links': strongswan_filter.macsec_ike_changed_links,
        'macsec_ike_new_links': strongswan_filter.macsec_ike_new_links,
        'macsec_ike_verdicts': strongswan_filter.macsec_ike_verdicts}
    assert topology_filter.FilterModule().filters()['macsec_parent_nics'] is topology_filter.macsec_parent_nics


# ---------------------------------------------------------------------------------------------------------------
# macsec_ipsec_connections

def test_ipsec_over_macsec_runs_between_the_addresses_on_the_macsec_interface():
    assert connections_of(entry(inside_link(), 'node-a')) == [{
        'name': 'l2sec-ike-in-1', 'link': 'ike-in', 'peer': 'node-b', 'provider': 'kernel',
        'layering': 'ipsec_over_macsec',
        'auth': 'pubkey', 'rekey_time': 3600, 'ike_rekey_time': 14400, 'dpd_delay': 30, 'initiator': True,
        'local_addr': '10.0.1.1', 'remote_addr': '10.0.1.2', 'local_ts': '10.0.1.1/32', 'remote_ts': '10.0.1.2/32',
        'probe': '10.0.1.2',
    }]


def test_the_peer_has_the_mirror_connection_and_does_not_initiate():
    connection, = connections_of(entry(inside_link(), 'node-b'))
    assert connection['name'] == 'l2sec-ike-in-0' and connection['peer'] == 'node-a'
    assert (connection['local_addr'], connection['remote_addr']) == ('10.0.1.2', '10.0.1.1')
    assert (connection['local_ts'], connection['remote_ts']) == ('10.0.1.2/32', '10.0.1.1/32')
    assert connection['initiator'] is False
    assert connection['probe'] == '10.0.1.1'


def test_ipv6_addresses_get_host_prefixes_of_128():
    addresses = {'node-a': 'fd00:1::1/64', 'node-b': 'fd00:1::2/64'}
    connection, = connections_of(entry(inside_link(addresses=addresses), 'node-a'))
    assert (connection['local_addr'], connection['remote_addr']) == ('fd00:1::1', 'fd00:1::2')
    assert (connection['local_ts'], connection['remote_ts']) == ('fd00:1::1/128', 'fd00:1::2/128')
    assert connection['probe'] == 'fd00:1::2'


def test_macsec_over_ipsec_runs_between_the_underlays_and_protects_only_gre():
    connection, = connections_of(entry(outside_link(), 'node-b'))
    assert connection['layering'] == 'macsec_over_ipsec' and connection['name'] == 'l2sec-ike-out-0'
    assert (connection['local_addr'], connection['remote_addr']) == ('192.0.2.2', '192.0.2.1')
    assert (connection['local_ts'], connection['remote_ts']) == ('192.0.2.2/32[gre]', '192.0.2.1/32[gre]')
    assert connection['initiator'] is False
    # Without addresses on the link there is nothing to ping across it.
    assert connection['probe'] is None


def with_addresses(link):
    return dict(link, ends=[dict(end, address=ADDRESSES[end['host']]) for end in link['ends']])


def test_macsec_over_ipsec_probes_the_peers_address_on_the_link_not_its_underlay():
    connection, = connections_of(entry(with_addresses(outside_link()), 'node-b'))
    assert connection['probe'] == '10.0.1.1' and connection['remote_addr'] == '192.0.2.1'


def test_macsec_over_ipsec_over_ipv6_underlays():
    underlays = {'node-a': '2001:db8::1', 'node-b': '2001:db8::2'}
    connection, = connections_of(entry(outside_link(underlays=underlays), 'node-a'))
    assert (connection['local_ts'], connection['remote_ts']) == ('2001:db8::1/128[gre]', '2001:db8::2/128[gre]')
    assert connection['initiator'] is True


def test_the_ipsec_options_are_passed():
    link = inside_link(auth='psk', rekey_time=20, ike_rekey_time=45, dpd_delay=0)
    connection, = connections_of(entry(link, 'node-a'))
    assert (connection['auth'], connection['rekey_time'], connection['ike_rekey_time'], connection['dpd_delay']) == (
        'psk', 20, 45, 0)


def test_a_segment_gives_one_connection_per_peer():
    link = inside_link(hosts=('node-a', 'node-b', 'node-c'))
    connections = connections_of(entry(link, 'node-b'))
    assert [connection['peer'] for connection in connections] == ['node-a', 'node-c']
    assert [connection['name'] for connection in connections] == ['l2sec-ike-in-0', 'l2sec-ike-in-2']
    assert {connection['local_addr'] for connection in connections} == {'10.0.1.2'}
    assert [connection['remote_ts'] for connection in connections] == ['10.0.1.1/32', '10.0.1.3/32']
    assert [connection['probe'] for connection in connections] == ['10.0.1.1', '10.0.1.3']


@pytest.mark.parametrize('hosts', [('node-a', 'node-b', 'node-c'), ('node-c', 'node-a', 'node-b')],
                         ids=['inventory-order', 'node-c-first'])
def test_of_each_pair_only_the_end_that_comes_first_initiates(hosts):
    link = inside_link(hosts=hosts)
    initiates = {}
    for host in hosts:
        for connection in connections_of(entry(link, host)):
            initiates[(host, connection['peer'])] = connection['initiator']
    for first_index, first in enumerate(hosts):
        for second in hosts[first_index + 1:]:
            assert initiates[(first, second)] is True
            assert initiates[(second, first)] is False
    # The first end initiates everywhere, the last nowhere.
    assert all(initiates[(hosts[0], peer)] for peer in hosts[1:])
    assert not any(initiates[(hosts[-1], peer)] for peer in hosts[:-1])


def test_connection_names_are_sanitized_for_swanctl():
    hosts = ('node.a.example.org', 'node@b')
    link = {'name': 'Rack1.ab_2', 'provider': 'kernel', 'ipsec': {'layering': 'ipsec_over_macsec'},
            'ends': [{'host': hosts[0], 'interface': 'eth1', 'address': '10.0.1.1/24'},
                     {'host': hosts[1], 'interface': 'eth1', 'address': '10.0.1.2/24'}]}
    parts = _topology.expand([link], {hosts[0]: {'eth1': '52:54:00:0a:00:01'},
                                      hosts[1]: {'eth1': '52:54:00:0b:00:01'}})
    there, = connections_of(parts[hosts[0]]['links'][0])
    back, = connections_of(parts[hosts[1]]['links'][0])
    assert there['name'] == 'l2sec-Rack1-ab_2-1'
    assert back['name'] == 'l2sec-Rack1-ab_2-0'
    for connection in (there, back):
        assert re.match(r'[A-Za-z0-9_-]+\Z', connection['name']), connection['name']
    # The link and peer keep their own names.
    assert (there['link'], there['peer'], back['peer']) == ('Rack1.ab_2', 'node@b', 'node.a.example.org')


@pytest.mark.parametrize('ipsec', [None, 'absent'])
def test_a_link_without_ipsec_has_no_connection(ipsec):
    link = {'name': 'plain', 'provider': 'kernel',
            'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    if ipsec != 'absent':
        link['ipsec'] = ipsec
    assert connections_of(entry(link, 'node-a')) == []


def test_the_connections_of_a_host_are_the_flattened_connections_of_its_links():
    links = [inside_link(hosts=('node-a', 'node-b', 'node-c')), outside_link(hosts=('node-c', 'node-a')),
             {'name': 'plain', 'provider': 'kernel',
              'ends': [{'host': 'node-a', 'interface': 'eth2'}, {'host': 'node-b', 'interface': 'eth2'}]}]
    macs = {host: {'eth1': mac['eth1'], 'eth2': mac['eth1'][:-1] + '2'} for host, mac in MACS.items()}
    parts = _topology.expand(links, macs)
    connections = [connection for item in parts['node-a']['links'] for connection in connections_of(item)]
    assert [connection['name'] for connection in connections] == [
        'l2sec-ike-in-1', 'l2sec-ike-in-2', 'l2sec-ike-out-0']
    assert [connection['initiator'] for connection in connections] == [True, True, False]
    assert len({connection['name'] for connection in connections}) == len(connections)


def test_connection_names_of_a_host_stay_unique_when_link_and_host_names_hold_hyphens():
    links = [dict(inside_link(name='wan'), ends=[{'host': 'hq', 'interface': 'eth1', 'address': '10.0.1.1/30'},
                                                 {'host': 'site-b', 'interface': 'eth1', 'address': '10.0.1.2/30'}]),
             dict(inside_link(name='wan-site'), ends=[{'host': 'hq', 'interface': 'eth2', 'address': '10.0.2.1/30'},
                                                      {'host': 'b', 'interface': 'eth1', 'address': '10.0.2.2/30'}])]
    macs = {'hq': {'eth1': '52:54:00:00:00:01', 'eth2': '52:54:00:00:00:02'}, 'site-b': {'eth1': '52:54:00:00:00:03'},
            'b': {'eth1': '52:54:00:00:00:04'}}
    names = [connection['name'] for item in _topology.expand(links, macs)['hq']['links']
             for connection in connections_of(item)]
    assert len(names) == 2
    assert len(set(names)) == 2, names


@pytest.mark.parametrize('value', [None, 'ike-in', ['ike-in'], {'name': 'ike-in', 'options': {}, 'end': {}},
                                   {'options': {'ipsec': None}, 'end': {}, 'peers': []}],
                         ids=['none', 'string', 'list', 'no-peers', 'no-name'])
def test_wrong_input_is_refused(value):
    with pytest.raises(AnsibleFilterError, match='must be an entry of a host\'s plan part'):
        connections_of(value)


# ---------------------------------------------------------------------------------------------------------------
# macsec_ike_health_connections: what macsec_ike_health checks of a host's connections

def test_health_connections_are_each_connection_and_the_peer_address_it_pings():
    connections = connections_of(entry(inside_link(hosts=('node-a', 'node-b', 'node-c')), 'node-b'))
    assert strongswan_filter.macsec_ike_health_connections(connections) == [
        {'name': 'l2sec-ike-in-0', 'peer': '10.0.1.1'}, {'name': 'l2sec-ike-in-2', 'peer': '10.0.1.3'}]


def test_health_connections_without_a_probe_ping_nothing():
    connections = connections_of(entry(outside_link(), 'node-a'))
    assert strongswan_filter.macsec_ike_health_connections(connections) == [{'name': 'l2sec-ike-out-1', 'peer': None}]


@pytest.mark.parametrize('connections', [None, []])
def test_no_connections_no_health_connections(connections):
    assert strongswan_filter.macsec_ike_health_connections(connections) == []


# ---------------------------------------------------------------------------------------------------------------
# macsec_ike_changed_links: the links whose swanctl file changed at some end in the play

def files(*items):
    """What the role registers as strongswan_files: one result per link of the host (its loop var, changed,
    pending, and content_changed: as changed unless given)."""
    return {'changed': any(item[1] for item in items), 'results': [
        {'strongswan_link': item[0], 'changed': item[1], 'pending': item[2],
         'content_changed': item[3] if len(item) > 3 else item[1],
         'path': '/etc/swanctl/conf.d/l2sec-macsec-%s.conf' % item[0]} for item in items]}


def test_changed_links_are_those_changed_at_any_end_in_the_play_once_each_and_sorted():
    hostvars = {
        'node-a': {'strongswan_files': files(('zz', True, True), ('ike-in', True, True), ('kept', False, False))},
        'node-b': {'strongswan_files': files(('ike-in', True, True), ('mode-only', True, False, False))},
        'node-c': {'strongswan_files': files(('outside', True, True))},  # not in the play
    }
    # A new mode alone changes nothing strongSwan reads: its IKE SAs are left alone.
    assert strongswan_filter.macsec_ike_changed_links(hostvars, ['node-a', 'node-b']) == ['ike-in', 'zz']


def test_changed_links_skip_what_is_not_a_registered_loop():
    hostvars = {
        'node-a': {'strongswan_files': {'skipped': True, 'changed': False}},
        'node-b': {'strongswan_files': {'results': ['odd', {'content_changed': True},
                                                    {'strongswan_link': '', 'content_changed': True},
                                                    {'strongswan_link': 'ab', 'changed': True, 'content_changed': True}]}},
        'node-c': {},
    }
    assert strongswan_filter.macsec_ike_changed_links(hostvars, ['node-a', 'node-b', 'node-c', 'node-d']) == ['ab']
    assert strongswan_filter.macsec_ike_changed_links({}, ['node-a']) == []


def test_changed_links_read_the_registered_name_given():
    hostvars = {'node-a': {'mine': files(('ab', True, True)), 'strongswan_files': files(('cd', True, True))}}
    assert strongswan_filter.macsec_ike_changed_links(hostvars, ['node-a'], files='mine') == ['ab']


# ---------------------------------------------------------------------------------------------------------------
# macsec_ike_verdicts: the controller's decision on each changed IPsec link from the health check of every end

def plan_of(link, *hosts):
    parts = _topology.expand([link], {end['host']: MACS[end['host']] for end in link['ends']})
    return {'hosts': {host: parts[host] for host in hosts}}


def checked(*names, ok=True, reasons=()):
    """What macsec_ike_health returns (registered as strongswan_health)."""
    return {'healthy': ok, 'unhealthy': [] if ok else list(names), 'changed': False,
            'connections': {name: {'healthy': ok, 'reasons': list(reasons)} for name in names}}


def test_a_changed_link_healthy_at_every_end_commits_its_pending_ends_only():
    hostvars = {'node-a': {'strongswan_files': files(('ike-in', True, True)), 'strongswan_health': checked('l2sec-ike-in-1')},
                'node-b': {'strongswan_files': files(('ike-in', False, False)),
                           'strongswan_health': checked('l2sec-ike-in-0')}}
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a', 'node-b'], ['ike-in'])
    assert verdicts == {
        'links': {'ike-in': {'confirmed': True, 'reasons': [], 'ends': ['node-a', 'node-b'], 'pending': ['node-a'],
                             'lost': []}},
        'commit': {'node-a': ['ike-ike-in']},
        'failed': {},
    }


def test_an_unhealthy_end_fails_every_end_of_the_link_with_its_reasons():
    why = 'no ESP packet came in on l2sec-ike-in-1 after a ping to 10.0.1.2'
    hostvars = {'node-a': {'strongswan_files': files(('ike-in', True, True)),
                           'strongswan_health': checked('l2sec-ike-in-1', ok=False, reasons=[why])},
                'node-b': {'strongswan_files': files(('ike-in', True, True)),
                           'strongswan_health': checked('l2sec-ike-in-0')}}
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a', 'node-b'], ['ike-in'])
    link = verdicts['links']['ike-in']
    assert not link['confirmed'] and link['reasons'] == ['node-a: ' + why]
    assert link['pending'] == ['node-a', 'node-b'] and link['lost'] == []
    assert verdicts['commit'] == {} and verdicts['failed'] == {'node-a': ['ike-in'], 'node-b': ['ike-in']}


@pytest.mark.parametrize('registered', [
    {'strongswan_terminates': {'unreachable': True, 'msg': 'Failed to connect'}},
    {'strongswan_terminates': {'started': 1, 'ansible_job_id': 'j1'},  # detached, then lost while it waited
     'strongswan_terminate_jobs': {'unreachable': True, 'msg': 'Failed to connect to the host via ssh'}},
    {'strongswan_health': {'unreachable': True, 'msg': 'Data could not be sent'}},
], ids=['terminate', 'terminate-job', 'health'])
def test_an_end_the_controller_lost_fails_the_link(registered):
    hostvars = {'node-a': {'strongswan_files': files(('ike-in', True, True)), 'strongswan_health': checked('l2sec-ike-in-1')},
                'node-b': dict({'strongswan_files': files(('ike-in', True, True)),
                                'strongswan_health': checked('l2sec-ike-in-0')}, **registered)}
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a', 'node-b'], ['ike-in'])
    link = verdicts['links']['ike-in']
    assert link['lost'] == ['node-b'] and not link['confirmed']
    # A check that answered after the host was lost proves nothing: the loss is the reason.
    assert link['reasons'] == ['node-b could not be reached to check the IKE connections of ike-in (its SSH may '
                               'cross this link)']
    assert verdicts['failed'] == {'node-a': ['ike-in'], 'node-b': ['ike-in']} and verdicts['commit'] == {}


@pytest.mark.parametrize('health, reason', [
    ({'skipped': True}, 'node-b did not check the IKE connections of ike-in'),
    (None, 'node-b did not check the IKE connections of ike-in'),
    ({'failed': True, 'msg': 'swanctl --list-sas failed (is strongswan.service running?): no vici'},
     'node-b did not check l2sec-ike-in-0: swanctl --list-sas failed (is strongswan.service running?): no vici'),
    (checked('l2sec-other-0'), 'node-b did not check l2sec-ike-in-0: no result for it'),
    ({'connections': {'l2sec-ike-in-0': {'healthy': False}}}, 'node-b: l2sec-ike-in-0 is not healthy'),
], ids=['skipped', 'none', 'failed', 'other-connection', 'no-reasons'])
def test_an_end_that_did_not_check_its_connections_fails_the_link(health, reason):
    hostvars = {'node-a': {'strongswan_health': checked('l2sec-ike-in-1')}, 'node-b': {}}
    if health is not None:
        hostvars['node-b']['strongswan_health'] = health
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a', 'node-b'], ['ike-in'])
    assert verdicts['links']['ike-in']['reasons'] == [reason]
    assert verdicts['failed'] == {'node-a': ['ike-in'], 'node-b': ['ike-in']}


def test_every_connection_of_a_segment_end_must_be_healthy():
    link = inside_link(hosts=('node-a', 'node-b', 'node-c'))
    hostvars = {'node-a': {'strongswan_health': checked('l2sec-ike-in-1', 'l2sec-ike-in-2')},
                'node-b': {'strongswan_files': files(('ike-in', True, True)),
                           'strongswan_health': checked('l2sec-ike-in-0')},  # its connection to node-c is missing
                'node-c': {'strongswan_health': checked('l2sec-ike-in-0', 'l2sec-ike-in-1')}}
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(link, 'node-a', 'node-b', 'node-c'), hostvars,
                                                     ['node-a', 'node-b', 'node-c'], ['ike-in'])
    link_verdict = verdicts['links']['ike-in']
    assert link_verdict['ends'] == ['node-a', 'node-b', 'node-c'] and link_verdict['pending'] == ['node-b']
    assert link_verdict['reasons'] == ['node-b did not check l2sec-ike-in-2: no result for it']
    assert verdicts['failed'] == {'node-a': ['ike-in'], 'node-b': ['ike-in'], 'node-c': ['ike-in']}


def test_only_the_changed_links_with_ipsec_and_an_end_in_the_play_are_decided():
    plain = {'name': 'plain', 'provider': 'kernel',
             'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    plan = {'hosts': {'node-a': {'links': plan_of(inside_link(), 'node-a')['hosts']['node-a']['links']
                                 + plan_of(plain, 'node-a')['hosts']['node-a']['links']}}}
    hostvars = {'node-a': {'strongswan_health': checked('l2sec-ike-in-1')}}
    empty = {'links': {}, 'commit': {}, 'failed': {}}
    assert strongswan_filter.macsec_ike_verdicts(plan, hostvars, ['node-a'], []) == empty
    assert strongswan_filter.macsec_ike_verdicts(plan, hostvars, ['node-a'], ['plain']) == empty
    assert strongswan_filter.macsec_ike_verdicts(plan, hostvars, ['node-b'], ['ike-in']) == empty
    assert list(strongswan_filter.macsec_ike_verdicts(plan, hostvars, ['node-a'], ['ike-in', 'plain'])['links']) == [
        'ike-in']


def test_an_end_outside_the_play_is_not_asked():
    hostvars = {'node-a': {'strongswan_files': files(('ike-in', True, True)),
                           'strongswan_health': checked('l2sec-ike-in-1')}}
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a'], ['ike-in'])
    assert verdicts['links']['ike-in']['ends'] == ['node-a'] and verdicts['commit'] == {'node-a': ['ike-ike-in']}


def test_verdicts_read_the_registered_names_given():
    hostvars = {'node-a': {'my_files': files(('ike-in', True, True)), 'my_health': checked('l2sec-ike-in-1'),
                           'strongswan_terminates': {'unreachable': True}},
                'node-b': {'my_health': checked('l2sec-ike-in-0'), 'my_reach': {'unreachable': True}}}
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a', 'node-b'], ['ike-in'], files='my_files',
                                                     health='my_health', reached=('my_reach',))
    assert verdicts['links']['ike-in']['lost'] == ['node-b'] and verdicts['links']['ike-in']['pending'] == ['node-a']


# ---------------------------------------------------------------------------------------------------------------
# macsec_parent_nics

def test_parent_nics_leave_out_the_tunnels_the_collection_makes():
    links = [
        {'name': 'plain', 'provider': 'kernel',
         'ends': [{'host': 'node-a', 'interface': 'eth3'}, {'host': 'node-b', 'interface': 'eth3'}]},
        outside_link(hosts=('node-a', 'node-b')),
        inside_link(hosts=('node-b', 'node-a')),
    ]
    assert topology_filter.macsec_parent_nics(links, 'node-a') == ['eth3', 'eth1']
    assert topology_filter.macsec_parent_nics(links, 'node-b') == ['eth3', 'eth1']
    assert topology_filter.macsec_parent_nics(links, 'node-c') == []
    assert topology_filter.macsec_parent_nics([outside_link()], 'node-a') == []


def test_parent_nics_skip_what_is_malformed():
    links = [
        'not a link',
        {'name': 'no-ends', 'provider': 'kernel'},
        {'name': 'ends-not-a-list', 'provider': 'kernel', 'ends': 'eth1'},
        {'name': 'odd-ends', 'provider': 'kernel',
         'ends': ['node-a', {'host': 'node-a'}, {'host': 'node-a', 'interface': ''}, {'host': 'node-a', 'interface': 'eth5'}]},
        {'name': 'bad-ipsec', 'provider': 'kernel', 'ipsec': 'macsec_over_ipsec',
         'ends': [{'host': 'node-a', 'interface': 'eth6'}]},
    ]
    assert topology_filter.macsec_parent_nics(links, 'node-a') == ['eth5', 'eth6']
    assert topology_filter.macsec_parent_nics('not a list', 'node-a') == []
    assert topology_filter.macsec_parent_nics(None, 'node-a') == []


# ---------------------------------------------------------------------------------------------------------------
# The kernel and MKA filters: the tunnel under the SecY

def test_the_kernel_filter_gives_macsec_secy_the_tunnel_under_the_secy():
    item = entry(outside_link(underlay_mtu=9000), 'node-a')
    material = _keys.link_material(_keys.link_from_plan(item), 'node-a', MASTER)
    args = kernel_filter.macsec_secy_args(item, material)
    mac = _topology.derive_tunnel_mac('ike-out', 'node-a')
    assert args['parent'] == 'gt1'
    assert args['tunnel'] == {'local': '192.0.2.1', 'remote': '192.0.2.2', 'address': mac, 'mtu': 8925}
    # The peer's SCI is that of its tunnel's MAC: what its SecY will send with.
    peer_mac = _topology.derive_tunnel_mac('ike-out', 'node-b')
    assert [sc['sci'] for sc in args['rx_scs']] == [peer_mac.replace(':', '') + '0001']
    # And macsec_secy takes it: the tunnel is a gretap one with that MAC, so the SecY's SCI is the end's.
    spec = _secy.normalize_spec(module_params(args), _keys.key_id)
    assert spec['tunnel'] == {'kind': 'gretap', 'local': '192.0.2.1', 'remote': '192.0.2.2', 'address': mac,
                              'mtu': 8925}
    assert _secy.planned_parent(spec)['mac'] == mac
    assert item['end']['sci'] == mac.replace(':', '') + '0001'


def test_the_kernel_filter_leaves_the_tunnel_out_for_the_other_layerings():
    for link in (inside_link(), {'name': 'plain', 'provider': 'kernel',
                                 'ends': [{'host': 'node-a', 'interface': 'eth1'},
                                          {'host': 'node-b', 'interface': 'eth1'}]}):
        item = entry(link, 'node-b')
        material = _keys.link_material(_keys.link_from_plan(item), 'node-b', MASTER)
        args = kernel_filter.macsec_secy_args(item, material)
        assert 'tunnel' not in args and args['parent'] == 'eth1'
        assert _secy.normalize_spec(module_params(args), _keys.key_id)['tunnel'] is None


def test_the_mka_port_has_the_tunnel_of_a_macsec_over_ipsec_link():
    link = outside_link(provider='wpa_supplicant')
    port = mka_filter.macsec_mka_port(entry(link, 'node-b'))
    assert port['parent'] == 'gt1'
    assert port['tunnel'] == {'local': '192.0.2.2', 'remote': '192.0.2.1',
                              'address': _topology.derive_tunnel_mac('ike-out', 'node-b'), 'mtu': 1425}
    assert mka_filter.macsec_mka_port(entry(dict(link, provider='wpa_supplicant', ipsec=None,
                                                 ends=[{'host': 'node-a', 'interface': 'eth1'},
                                                       {'host': 'node-b', 'interface': 'eth1'}]),
                                            'node-b'))['tunnel'] is None


def test_changed_links_and_verdicts_read_a_list_of_registered_names():
    # The role registers the new links' files before the SecYs and a batch's files later, under two names.
    hostvars = {'node-a': {'strongswan_files': files(('new', True, True)), 'strongswan_written': files(('ike-in', True, True)),
                           'strongswan_health': checked('l2sec-ike-in-1')},
                'node-b': {'strongswan_written': files(('ike-in', False, False)), 'strongswan_health': checked('l2sec-ike-in-0')}}
    both = ['strongswan_files', 'strongswan_written']
    assert strongswan_filter.macsec_ike_changed_links(hostvars, ['node-a', 'node-b'], both) == ['ike-in', 'new']
    assert strongswan_filter.macsec_ike_changed_links(hostvars, ['node-a', 'node-b'], ['strongswan_written']) == ['ike-in']
    verdicts = strongswan_filter.macsec_ike_verdicts(plan_of(inside_link(), 'node-a', 'node-b'), hostvars,
                                                     ['node-a', 'node-b'], ['ike-in'], both)
    assert verdicts['commit'] == {'node-a': ['ike-ike-in']}  # pending at node-a only, from the batch's register


def found(*links, other=()):
    """What the role's find of the collection's swanctl files registers (strongswan_found)."""
    return {'files': [{'path': '/etc/swanctl/conf.d/l2sec-macsec-%s.conf' % link} for link in links]
            + [{'path': path} for path in other]}


def test_new_links_are_those_no_end_in_the_play_has_a_file_of():
    plan = {'hosts': {}}
    for link in (inside_link(name='fresh'), inside_link(name='known'), inside_link(name='half'),
                 {'name': 'plain', 'provider': 'kernel',
                  'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}):
        for host, part in plan_of(link, 'node-a', 'node-b')['hosts'].items():
            plan['hosts'].setdefault(host, {'links': []})['links'].extend(part['links'])
    hostvars = {'node-a': {'strongswan_found': found('known', 'half', other=['/etc/swanctl/conf.d/mine.conf'])},
                'node-b': {'strongswan_found': found('known')}}
    # 'half' has a file at node-a: a new end of a known link changes in the link's batch, with its other ends.
    assert strongswan_filter.macsec_ike_new_links(plan, hostvars, ['node-a', 'node-b']) == ['fresh']
    # A host without a find result (not reached, another play) has no file; one outside the play is not asked.
    assert strongswan_filter.macsec_ike_new_links(plan, {}, ['node-a', 'node-b']) == ['fresh', 'half', 'known']
    assert strongswan_filter.macsec_ike_new_links(plan, hostvars, ['node-b']) == ['fresh', 'half']
    assert strongswan_filter.macsec_ike_new_links(plan, hostvars, ['node-b'], found='other') == ['fresh', 'half', 'known']


def test_ipsec_links_are_batched_whatever_their_macsec_provider():
    plan = {'hosts': {}, 'links': ['mka-ike', 'plain', 'kernel-ike']}
    for link in (dict(inside_link(name='kernel-ike')), dict(inside_link(name='mka-ike'), provider='wpa_supplicant'),
                 {'name': 'plain', 'provider': 'kernel',
                  'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}):
        for host, part in plan_of(link, 'node-a', 'node-b')['hosts'].items():
            plan['hosts'].setdefault(host, {'links': []})['links'].extend(part['links'])
    assert kernel_filter.macsec_link_batches(plan, 1, 'strongswan') == [['mka-ike'], ['kernel-ike']]
    assert kernel_filter.macsec_link_batches(plan, 0, 'kernel') == [['plain', 'kernel-ike']]


# ---------------------------------------------------------------------------------------------------------------
# macsec_ipsec_connection_pattern: the connection names of links taken out, found from the link names alone

def test_connection_pattern_matches_every_connection_of_the_links_and_no_other():
    three = ('node-a', 'node-b', 'node-c')
    gone = [inside_link(three, name='dc.rack-1'), outside_link(name='ike_out')]
    kept = [inside_link(name='dc.rack-1-b'), inside_link(name='dc-rack'), outside_link(name='ike_out2')]
    pattern = strongswan_filter.macsec_ipsec_connection_pattern([link['name'] for link in gone])
    assert pattern == 'l2sec-(dc-rack-1|ike_out)-[0-9]+'
    assert strongswan_filter.macsec_ipsec_connection_pattern(link['name'] for link in gone) == pattern  # from map

    def names(links):
        return {conn['name'] for link in links for end in link['ends']
                for conn in connections_of(entry(link, end['host']))}

    assert names(gone) == {'l2sec-dc-rack-1-0', 'l2sec-dc-rack-1-1', 'l2sec-dc-rack-1-2',
                           'l2sec-ike_out-0', 'l2sec-ike_out-1'}
    assert all(re.fullmatch(pattern, name) for name in names(gone))
    assert not any(re.fullmatch(pattern, name) for name in names(kept))
    # As the role reads `swanctl --list-sas`: the name's start, up to the colon.
    assert not any(re.match('^' + pattern + ': #', name + ': #3') for name in names(kept))


@pytest.mark.parametrize('links', [[], 'ab', None, {'ab': 1}])
def test_connection_pattern_wants_a_list_of_link_names(links):
    with pytest.raises(AnsibleFilterError, match='non-empty list of link names'):
        strongswan_filter.macsec_ipsec_connection_pattern(links)
