# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The MKA provider's filters (plugins/filter/mka.py): a host's plan entry of a wpa_supplicant link becomes the
port its daemon runs (macsec_mka_port), the port becomes what macsec_health checks (macsec_health_port, accepted
by _health.normalize_ports()), and preflight's entry of the daemon says what it cannot honour (macsec_mka_refusals)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.l2sec.macsec.plugins.filter import mka as mka_filter
from ansible_collections.l2sec.macsec.plugins.module_utils import _health
from ansible_collections.l2sec.macsec.plugins.module_utils import _preflight
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology

MACS = {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth2': '52:54:00:0b:00:01'},
        'node-c': {'eth3': '52:54:00:0c:00:01'}, 'radius-1': {'eth0': '52:54:00:0d:00:01'}}
RADIUS = {'host': '192.0.2.9', 'server_host': 'radius-1'}


def end(host, **options):
    found = {'host': host, 'interface': next(iter(MACS[host]))}
    found.update(options)
    return found


def entry(host='node-a', ends=None, version='2.10', **options):
    """The host's plan entry (macsec_topology phase=plan) of one wpa_supplicant link, as the roles have it."""
    raw = {'name': 'mka-ab', 'provider': 'wpa_supplicant',
           'ends': ends if ends is not None else [end('node-a'), end('node-b')]}
    raw.update(options)
    hosts = {item['host'] for item in raw['ends']}
    macs = {name: MACS[name] for name in hosts}
    return _topology.expand([raw], macs, {'wpa_supplicant_version': version})[host]['links'][0]


def eap_entry(host):
    return entry(host, mode='eap', radius=RADIUS, ends=[
        end('node-a', eap_role='authenticator', address='10.0.1.1/24'),
        end('node-b', eap_role='supplicant', address='10.0.1.2/24', mka_priority=7)])


# Preflight's entry of a daemon (macsec_preflight: daemons.wpa_supplicant), as Debian 12 and 2.11 have it.
WPA_210 = {'path': '/usr/sbin/wpa_supplicant', 'version': '2.10', 'macsec_linux': True, 'macsec_csindex': False,
           'macsec_offload': False}
WPA_211 = dict(WPA_210, version='2.11', macsec_csindex=True, macsec_offload=True)


def test_the_filters_are_registered():
    assert mka_filter.FilterModule().filters() == {
        'macsec_mka_port': mka_filter.macsec_mka_port, 'macsec_health_port': mka_filter.macsec_health_port,
        'macsec_mka_refusals': mka_filter.macsec_mka_refusals, 'macsec_unit_instance': mka_filter.macsec_unit_instance,
        'macsec_mka_verdicts': mka_filter.macsec_mka_verdicts}


@pytest.mark.parametrize('name, instance', [('eth1', 'eth1'), ('gt-ike-out', 'gt\\x2dike\\x2dout'),
                                            ('vlan.10', 'vlan.10'), ('.x', '\\x2ex'), ('a@b', 'a\\x40b')])
def test_unit_instances_are_escaped_as_systemd_escape_does(name, instance):
    # A '-' would read as '/' in sys-subsystem-net-devices-%i.device, which the MKA units bind to.
    assert mka_filter.macsec_unit_instance(name) == instance


# ---------------------------------------------------------------------------------------------------------------
# macsec_mka_port
# ---------------------------------------------------------------------------------------------------------------

def test_a_psk_end_runs_wpa_supplicant_with_the_links_options():
    port = mka_filter.macsec_mka_port(entry(ends=[end('node-a', address='10.0.1.1/24', mka_priority=10),
                                                  end('node-b', address='10.0.1.2/24')],
                                            macsec_ifname='msab', mtu=1400, port=5, replay_window=64))
    assert port == {
        'link': 'mka-ab', 'mode': 'psk', 'eap_role': None, 'daemon': 'wpa_supplicant', 'parent': 'eth1',
        'ifname': 'msab', 'port': 5, 'cipher': 'gcm-aes-128', 'icv_len': 16, 'validate': 'strict', 'offload': 'off',
        'encrypt': True, 'replay_protect': True, 'replay_window': 64, 'mtu': 1400, 'addresses': ['10.0.1.1/24'],
        'mka_priority': 10, 'radius': None, 'peers': ['10.0.1.2'], 'peer_hosts': ['node-b'], 'tunnel': None,
    }


def test_a_psk_port_holds_no_key_material():
    # The explicit CAK and CKN come from macsec_keys in the task that writes the config, never from the port.
    cak, ckn = 'ab' * 32, 'cd' * 11
    port = mka_filter.macsec_mka_port(entry(cak=cak, ckn=ckn))
    assert 'cak' not in port and 'ckn' not in port
    assert cak not in repr(port) and ckn not in repr(port)


def test_an_eap_supplicant_end_runs_wpa_supplicant():
    port = mka_filter.macsec_mka_port(eap_entry('node-b'))
    assert (port['mode'], port['eap_role'], port['daemon']) == ('eap', 'supplicant', 'wpa_supplicant')
    assert port['parent'] == 'eth2' and port['ifname'] == 'msmka-ab'
    assert port['radius'] == {'host': '192.0.2.9', 'port': 1812, 'server_host': 'radius-1'}
    assert port['mka_priority'] == 7
    assert port['peers'] == ['10.0.1.1'] and port['peer_hosts'] == ['node-a']


def test_an_eap_authenticator_end_runs_hostapd():
    port = mka_filter.macsec_mka_port(eap_entry('node-a'))
    assert (port['mode'], port['eap_role'], port['daemon']) == ('eap', 'authenticator', 'hostapd')
    assert port['parent'] == 'eth1' and port['addresses'] == ['10.0.1.1/24']
    assert port['mka_priority'] is None  # the hostapd role fills in hostapd_mka_priority
    assert port['peers'] == ['10.0.1.2']


def test_an_eap_role_counts_only_with_mode_eap():
    # A psk link never runs hostapd, whatever its end says (the topology refuses eap_role there anyway).
    psk = dict(entry(), end=dict(entry()['end'], eap_role='authenticator'))
    port = mka_filter.macsec_mka_port(psk)
    assert (port['mode'], port['eap_role'], port['daemon']) == ('psk', None, 'wpa_supplicant')


def test_options_left_out_take_the_defaults_of_the_contract():
    bare = {'name': 'bare', 'provider': 'wpa_supplicant', 'options': {'macsec_ifname': 'msbare'},
            'end': {'interface': 'eth7'}, 'peers': [{'host': 'node-b'}]}
    port = mka_filter.macsec_mka_port(bare)
    assert port == {
        'link': 'bare', 'mode': 'psk', 'eap_role': None, 'daemon': 'wpa_supplicant', 'parent': 'eth7',
        'ifname': 'msbare', 'port': 1, 'cipher': 'gcm-aes-128', 'icv_len': 16, 'validate': 'strict',
        'offload': 'off', 'encrypt': True, 'replay_protect': True, 'replay_window': 0, 'mtu': None,
        'addresses': None, 'mka_priority': None, 'radius': None, 'peers': [], 'peer_hosts': ['node-b'], 'tunnel': None,
    }


def test_the_plans_nulls_take_the_defaults_too():
    # The plan gives every option, null where the contract has no default: null is not false.
    planned = entry()
    nulls = dict(planned, options=dict(planned['options'], encrypt=None, replay_protect=None, port=None,
                                       replay_window=None, cipher=None, offload=None))
    port = mka_filter.macsec_mka_port(nulls)
    assert (port['encrypt'], port['replay_protect'], port['port'], port['replay_window'], port['cipher'],
            port['offload']) == (True, True, 1, 0, 'gcm-aes-128', 'off')


def test_integrity_only_and_no_replay_protection_are_passed():
    port = mka_filter.macsec_mka_port(entry(encrypt=False, replay_protect=False))
    assert port['encrypt'] is False and port['replay_protect'] is False


def test_an_ends_port_overrides_the_links():
    port = mka_filter.macsec_mka_port(entry(port=3, ends=[end('node-a', port=9), end('node-b')]))
    assert port['port'] == 9
    assert mka_filter.macsec_mka_port(entry('node-b', port=3, ends=[end('node-a', port=9), end('node-b')]))[
        'port'] == 3


def test_the_peers_addresses_lose_their_prefix_and_peers_without_one_are_skipped():
    ends = [end('node-a', address='fd00:1::1/64'), end('node-b', address='fd00:1::2/64'), end('node-c')]
    port = mka_filter.macsec_mka_port(entry(ends=ends))
    assert port['peers'] == ['fd00:1::2']
    assert port['peer_hosts'] == ['node-b', 'node-c']
    assert port['addresses'] == ['fd00:1::1/64']
    # A segment: every other end is a peer.
    port = mka_filter.macsec_mka_port(entry('node-b', ends=[end('node-a', address='10.0.1.1/24'),
                                                            end('node-b', address='10.0.1.2/24'),
                                                            end('node-c', address='10.0.1.3/24')]))
    assert port['peers'] == ['10.0.1.1', '10.0.1.3'] and port['peer_hosts'] == ['node-a', 'node-c']


@pytest.mark.parametrize('given, message', [
    ('not an entry', 'must be an entry of a host\'s plan part'),
    (None, 'must be an entry of a host\'s plan part'),
    (['mka-ab'], 'must be an entry of a host\'s plan part'),
    ({'name': 'mka-ab', 'provider': 'wpa_supplicant', 'options': {}, 'end': {}}, 'with name, provider, options'),
])
def test_what_is_not_a_plan_entry_is_refused(given, message):
    with pytest.raises(AnsibleFilterError) as error:
        mka_filter.macsec_mka_port(given)
    assert message in str(error.value)


def test_a_kernel_link_is_refused_naming_it():
    kernel = dict(entry(), name='rack1-ab', provider='kernel')
    with pytest.raises(AnsibleFilterError, match='link rack1-ab has provider kernel, not wpa_supplicant'):
        mka_filter.macsec_mka_port(kernel)


# ---------------------------------------------------------------------------------------------------------------
# macsec_health_port
# ---------------------------------------------------------------------------------------------------------------

def test_the_health_port_of_a_supplicant():
    port = mka_filter.macsec_mka_port(eap_entry('node-b'))
    assert mka_filter.macsec_health_port(port, '/run/l2sec-macsec/mka') == {
        'name': 'msmka-ab', 'daemon': 'wpa_supplicant', 'ctrl_path': '/run/l2sec-macsec/mka/eth2',
        'peers': ['10.0.1.1']}


def test_the_health_port_of_an_authenticator():
    port = mka_filter.macsec_mka_port(eap_entry('node-a'))
    health = mka_filter.macsec_health_port(port, '/run/l2sec-macsec/hostapd/')
    assert health == {'name': 'msmka-ab', 'daemon': 'hostapd', 'ctrl_path': '/run/l2sec-macsec/hostapd/eth1',
                      'peers': ['10.0.1.2']}


def test_macsec_health_accepts_what_the_filter_gives():
    ports = [mka_filter.macsec_mka_port(eap_entry('node-a')),
             mka_filter.macsec_mka_port(entry('node-a', macsec_ifname='msv6', ends=[
                 end('node-a', address='fd00:1::1/64'), end('node-b', address='fd00:1::2/64')]))]
    health = [mka_filter.macsec_health_port(port, '/run/l2sec-macsec/mka') for port in ports]
    assert _health.normalize_ports(health) == [
        {'name': 'msmka-ab', 'daemon': 'hostapd', 'ctrl_path': '/run/l2sec-macsec/mka/eth1', 'peers': ['10.0.1.2']},
        {'name': 'msv6', 'daemon': 'wpa_supplicant', 'ctrl_path': '/run/l2sec-macsec/mka/eth1',
         'peers': ['fd00:1::2']},
    ]


# ---------------------------------------------------------------------------------------------------------------
# macsec_mka_refusals
# ---------------------------------------------------------------------------------------------------------------

def psk_port(**options):
    return mka_filter.macsec_mka_port(entry(version='2.11', **options))


def test_no_ports_no_refusals_even_without_the_daemon():
    assert mka_filter.macsec_mka_refusals([], None) == []


def test_a_daemon_that_is_not_installed_is_refused_once():
    refusals = mka_filter.macsec_mka_refusals([psk_port(), psk_port(cipher='gcm-aes-256')], None)
    assert refusals == ['wpa_supplicant is not installed: install the wpasupplicant package (or let the role '
                        'install it)']
    assert mka_filter.macsec_mka_refusals([psk_port()], {}, 'hostapd', 'hostapd') == [
        'hostapd is not installed: install the hostapd package (or let the role install it)']


def test_a_daemon_without_the_macsec_linux_driver_is_refused():
    found = dict(WPA_210, path='/usr/sbin/hostapd', macsec_linux=False)
    assert mka_filter.macsec_mka_refusals([psk_port()], found, 'hostapd', 'hostapd') == [
        'hostapd 2.10 at /usr/sbin/hostapd has no macsec_linux driver (built without CONFIG_MACSEC and '
        'CONFIG_DRIVER_MACSEC_LINUX): install a build that has it']
    refusals = mka_filter.macsec_mka_refusals([psk_port()], dict(found, version=None))
    assert refusals and 'wpa_supplicant (version unknown) at /usr/sbin/hostapd has no macsec_linux' in refusals[0]


def test_gcm_aes_256_needs_macsec_csindex():
    port = psk_port(cipher='gcm-aes-256')
    assert mka_filter.macsec_mka_refusals([port], WPA_210) == [
        'link mka-ab: cipher gcm-aes-256 needs macsec_csindex (wpa_supplicant 2.11), which wpa_supplicant 2.10 at '
        '/usr/sbin/wpa_supplicant lacks: use gcm-aes-128, or upgrade wpa_supplicant']
    assert mka_filter.macsec_mka_refusals([port], dict(WPA_210, macsec_csindex=True)) == []


@pytest.mark.parametrize('offload', ['phy', 'mac'])
def test_offload_needs_macsec_offload(offload):
    port = psk_port(offload=offload)
    assert mka_filter.macsec_mka_refusals([port], WPA_210) == [
        'link mka-ab: offload needs macsec_offload (wpa_supplicant 2.11), which wpa_supplicant 2.10 at '
        '/usr/sbin/wpa_supplicant lacks: set offload: off, or upgrade wpa_supplicant']
    assert mka_filter.macsec_mka_refusals([port], dict(WPA_210, macsec_offload=True)) == []


def test_every_refusal_of_every_port_is_listed_in_order():
    ports = [psk_port(cipher='gcm-aes-256', offload='phy'), dict(psk_port(offload='mac'), link='other'),
             dict(psk_port(), link='fine')]
    refusals = mka_filter.macsec_mka_refusals(ports, WPA_210)
    assert [refusal.split(':')[0] for refusal in refusals] == ['link mka-ab', 'link mka-ab', 'link other']
    assert 'cipher gcm-aes-256' in refusals[0] and 'offload needs' in refusals[1] and 'offload needs' in refusals[2]


def test_all_fine_is_no_refusal():
    assert mka_filter.macsec_mka_refusals([psk_port(), mka_filter.macsec_mka_port(eap_entry('node-b'))],
                                          WPA_210) == []
    assert mka_filter.macsec_mka_refusals([psk_port(cipher='gcm-aes-256', offload='phy')], WPA_211) == []


def test_preflights_entry_of_debian_12s_wpa_supplicant_refuses_gcm_aes_256(tmp_path):
    # The entry as macsec_preflight makes it from the binary: 2.10 has the driver, not the 2.11 options.
    binary = tmp_path / 'wpa_supplicant'
    binary.write_bytes(b'\0macsec_linux\0macsec_policy\0')
    found = _preflight.daemon_facts(lambda argv: (0, 'wpa_supplicant v2.10\n', ''),
                                    {'wpa_supplicant': str(binary)}.get)['wpa_supplicant']
    assert mka_filter.macsec_mka_refusals([psk_port()], found) == []
    refusals = mka_filter.macsec_mka_refusals([psk_port(cipher='gcm-aes-256')], found)
    assert len(refusals) == 1 and 'needs macsec_csindex' in refusals[0] and str(binary) in refusals[0]
    binary.write_bytes(b'\0macsec_linux\0macsec_csindex\0')
    found = _preflight.daemon_facts(lambda argv: (0, 'wpa_supplicant v2.11\n', ''),
                                    {'wpa_supplicant': str(binary)}.get)['wpa_supplicant']
    assert mka_filter.macsec_mka_refusals([psk_port(cipher='gcm-aes-256')], found) == []


# macsec_mka_verdicts: the controller's decision on each MKA link from the health check of every end.

def plan_of(*hosts):
    return {'hosts': {host: {'links': [entry(host)]} for host in hosts}}


def healthy(ifname, ok=True, reasons=()):
    return {'ports': {ifname: {'healthy': ok, 'reasons': list(reasons)}}, 'healthy': ok}


def configs(link, pending):
    return {'results': [{'wpa_supplicant_item': {'link': link}, 'pending': pending, 'changed': pending}]}


def test_a_link_whose_ends_are_all_healthy_commits_its_changed_ends_only():
    ifname = entry('node-a')['options']['macsec_ifname']
    hostvars = {'node-a': {'wpa_supplicant_configs': configs('mka-ab', True), 'wpa_supplicant_health': healthy(ifname)},
                'node-b': {'wpa_supplicant_configs': configs('mka-ab', False), 'wpa_supplicant_health': healthy(ifname)}}
    verdicts = mka_filter.macsec_mka_verdicts(plan_of('node-a', 'node-b'), hostvars, ['node-a', 'node-b'])
    assert verdicts['links']['mka-ab']['confirmed'] and verdicts['links']['mka-ab']['pending'] == ['node-a']
    assert verdicts['commit'] == {'node-a': [ifname]} and verdicts['failed'] == {}


def test_an_unhealthy_end_fails_every_end_of_the_link_with_its_reasons():
    ifname = entry('node-a')['options']['macsec_ifname']
    hostvars = {'node-a': {'wpa_supplicant_configs': configs('mka-ab', True),
                           'wpa_supplicant_health': healthy(ifname, False, ['%s: MKA is not secured' % ifname])},
                'node-b': {'wpa_supplicant_configs': configs('mka-ab', True),
                           'wpa_supplicant_restarts': {'results': [{'unreachable': True}]},
                           'wpa_supplicant_health': healthy(ifname)}}  # a check that answered, but on what?
    verdicts = mka_filter.macsec_mka_verdicts(plan_of('node-a', 'node-b'), hostvars, ['node-a', 'node-b'])
    link = verdicts['links']['mka-ab']
    assert not link['confirmed'] and link['pending'] == ['node-a', 'node-b'] and link['lost'] == ['node-b']
    assert link['reasons'] == ['%s: MKA is not secured' % ifname,
                               'node-b could not be reached to check %s (its SSH may cross this link)' % ifname]
    assert verdicts['commit'] == {} and verdicts['failed'] == {'node-a': ['mka-ab'], 'node-b': ['mka-ab']}


@pytest.mark.parametrize('health, reason', [
    ({'skipped': True}, 'node-b did not check {ifname}'),
    (None, 'node-b did not check {ifname}'),
    ({'failed': True, 'msg': 'pyroute2 is missing', 'ports': {}}, 'node-b did not check {ifname}: pyroute2 is missing'),
])
def test_an_end_that_did_not_check_its_port_fails_the_link(health, reason):
    ifname = entry('node-a')['options']['macsec_ifname']
    hostvars = {'node-a': {'wpa_supplicant_health': healthy(ifname)}, 'node-b': {}}
    if health is not None:
        hostvars['node-b']['wpa_supplicant_health'] = health
    verdicts = mka_filter.macsec_mka_verdicts(plan_of('node-a', 'node-b'), hostvars, ['node-a', 'node-b'])
    assert verdicts['links']['mka-ab']['reasons'] == [reason.format(ifname=ifname)]


def test_a_healthy_link_without_a_change_has_nothing_to_commit_and_an_end_outside_the_play_is_not_asked():
    ifname = entry('node-a')['options']['macsec_ifname']
    hostvars = {'node-a': {'wpa_supplicant_health': healthy(ifname)}}
    verdicts = mka_filter.macsec_mka_verdicts(plan_of('node-a', 'node-b'), hostvars, ['node-a'])
    assert verdicts['links']['mka-ab']['ends'] == ['node-a'] and verdicts['links']['mka-ab']['confirmed']
    assert verdicts['commit'] == {} and verdicts['failed'] == {}


def test_a_host_without_mka_links_has_no_verdict():
    plan = {'hosts': {'node-a': {'links': [dict(entry('node-a'), provider='kernel')]}}}
    assert mka_filter.macsec_mka_verdicts(plan, {}, ['node-a']) == {'links': {}, 'commit': {}, 'failed': {}}


def test_a_batch_decides_on_its_own_links_only():
    # Another batch's link has no check yet in this batch: it is left out, not failed as unchecked.
    ifname = entry('node-a')['options']['macsec_ifname']
    hostvars = {'node-a': {'wpa_supplicant_configs': configs('mka-ab', True), 'wpa_supplicant_health': healthy(ifname)},
                'node-b': {'wpa_supplicant_health': healthy(ifname)}}
    plan = plan_of('node-a', 'node-b')
    verdicts = mka_filter.macsec_mka_verdicts(plan, hostvars, ['node-a', 'node-b'], only=['mka-ab'])
    assert list(verdicts['links']) == ['mka-ab'] and verdicts['commit'] == {'node-a': [ifname]}
    assert mka_filter.macsec_mka_verdicts(plan, hostvars, ['node-a', 'node-b'], only=['other']) == {
        'links': {}, 'commit': {}, 'failed': {}}
