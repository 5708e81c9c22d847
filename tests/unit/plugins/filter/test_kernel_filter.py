# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel provider's filter (plugins/filter/kernel.py): a host's plan entry and its key material become the
options of macsec_secy, and those options are what _secy.normalize_spec() accepts."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.l2sec.macsec.plugins.filter import kernel as kernel_filter
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology
from ansible_collections.l2sec.macsec.plugins.modules import macsec_secy

MASTER = bytes.fromhex('5c' * 8 + '0123456789abcdef' * 3)
MACS = {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth2': '52:54:00:0b:00:01'},
        'node-c': {'eth3': '52:54:00:0c:00:01'}}


def link(hosts=('node-a', 'node-b'), **options):
    ends = [{'host': host, 'interface': next(iter(MACS[host]))} for host in hosts]
    found = {'name': 'rack1-ab', 'provider': 'kernel', 'ends': ends}
    found.update(options)
    return found


def entry_and_material(host='node-a', **link_options):
    """The host's plan entry (macsec_topology phase=plan) and its key material (macsec_keys), as the role has them."""
    raw = link(**link_options)
    macs = {end['host']: MACS[end['host']] for end in raw['ends']}
    entry = _topology.expand([raw], macs)[host]['links'][0]
    material = _keys.link_material(_keys.link_from_plan(entry), host, MASTER)
    return entry, material


def module_params(args):
    """What macsec_secy's main() hands to normalize_spec(): its defaults, the task's options, its renames."""
    params = {name: option.get('default') for name, option in macsec_secy.ARGUMENT_SPEC.items()}
    params.update(args)
    return macsec_secy.spec_params(params)


def test_the_filter_is_registered():
    assert kernel_filter.FilterModule().filters() == {
        'macsec_secy_args': kernel_filter.macsec_secy_args,
        'macsec_confirm_plan': kernel_filter.macsec_confirm_plan,
        'macsec_link_batches': kernel_filter.macsec_link_batches, 'macsec_batch_stop': kernel_filter.macsec_batch_stop,
        'macsec_confirm_verdicts': kernel_filter.macsec_confirm_verdicts}


@pytest.mark.parametrize('generation, an', [(1, 0), (2, 1), (3, 2), (4, 3), (5, 0), (6, 1)])
def test_the_generation_picks_the_an(generation, an):
    entry, material = entry_and_material(generation=generation)
    args = kernel_filter.macsec_secy_args(entry, material)
    assert args['encoding_sa'] == an
    assert [sa['an'] for sa in args['tx_sas']] == [an]
    assert [sa['an'] for sc in args['rx_scs'] for sa in sc['sas']] == [an]


def test_a_point_to_point_link():
    entry, material = entry_and_material(macsec_ifname='msab', replay_window=64, validate='check')
    args = kernel_filter.macsec_secy_args(entry, material)
    assert args == {
        'name': 'msab', 'parent': 'eth1', 'port': 1, 'cipher': 'gcm-aes-128', 'icv_len': 16, 'encrypt': True,
        'send_sci': True, 'replay_protect': True, 'replay_window': 64, 'validate': 'check', 'offload': 'off',
        'parent_ipv6': False, 'encoding_sa': 0,
        'tx_sas': [{'an': 0, 'key': material['tx']['sak'], 'key_id': material['tx']['key_id']}],
        'rx_scs': [{'sci': '5254000b00010001', 'sas': [{'an': 0, 'key': material['rx'][0]['sak'],
                                                        'key_id': material['rx'][0]['key_id']}]}],
    }
    # Unset options are left out, so that the module's defaults apply.
    for option in ('mtu', 'addresses', 'salt'):
        assert option not in args


def test_each_peer_gets_an_rx_sc_with_its_sci_and_key():
    entry, material = entry_and_material(host='node-b', hosts=('node-a', 'node-b', 'node-c'), port=7)
    args = kernel_filter.macsec_secy_args(entry, material, True)
    keys = {record['host']: record['sak'] for record in material['rx']}
    assert [sc['sci'] for sc in args['rx_scs']] == ['5254000a00010007', '5254000c00010007']
    assert [sc['sas'][0]['key'] for sc in args['rx_scs']] == [keys['node-a'], keys['node-c']]
    assert args['tx_sas'][0]['key'] == material['tx']['sak'] and args['tx_sas'][0]['key'] not in keys.values()
    assert args['parent'] == 'eth2' and args['port'] == 7 and args['parent_ipv6'] is True


def test_xpn_passes_the_salt_and_each_ends_ssci():
    entry, material = entry_and_material(hosts=('node-a', 'node-b', 'node-c'), cipher='gcm-aes-xpn-256')
    args = kernel_filter.macsec_secy_args(entry, material)
    assert args['cipher'] == 'gcm-aes-xpn-256' and args['salt'] == material['salt'] and len(args['salt']) == 24
    assert args['tx_sas'][0]['ssci'] == material['tx']['ssci'] == 1
    assert [sc['sas'][0]['ssci'] for sc in args['rx_scs']] == [2, 3]


def test_the_options_a_link_sets_are_passed():
    raw_ends = [{'host': 'node-a', 'interface': 'eth1', 'address': '10.0.1.1/24'},
                {'host': 'node-b', 'interface': 'eth2', 'address': '10.0.1.2/24'}]
    entry, material = entry_and_material(ends=raw_ends, mtu=1400, icv_len=12, send_sci=False, encrypt=False,
                                         replay_protect=False, offload='phy')
    args = kernel_filter.macsec_secy_args(entry, material)
    assert (args['mtu'], args['icv_len'], args['send_sci'], args['encrypt'], args['replay_protect'],
            args['offload']) == (1400, 12, False, False, False, 'phy')
    assert args['addresses'] == ['10.0.1.1/24']


@pytest.mark.parametrize('change, message', [
    (lambda entry, material: ('not an entry', material), 'must be an entry of a host'),
    (lambda entry, material: ({'name': entry['name']}, material), 'must be an entry of a host'),
    (lambda entry, material: (entry, None), 'the material must be the kernel key material of link rack1-ab'),
    (lambda entry, material: (entry, dict(material, link='other')), 'must be the kernel key material'),
    (lambda entry, material: (entry, {'link': 'rack1-ab', 'cak': '00' * 16}), 'must be the kernel key material'),
    (lambda entry, material: (entry, dict(material, rx=[])), 'has no key of the peer(s) node-b'),
])
def test_wrong_input_is_refused(change, message):
    entry, material = change(*entry_and_material())
    with pytest.raises(AnsibleFilterError) as error:
        kernel_filter.macsec_secy_args(entry, material)
    assert message in str(error.value)


def test_the_material_of_another_host_is_refused():
    # It would make this host send with the other host's key (and, with XPN, its SSCI): nonce reuse.
    entry = entry_and_material('node-a')[0]
    material = entry_and_material('node-b')[1]
    with pytest.raises(AnsibleFilterError, match='is for host node-b, the entry for host node-a'):
        kernel_filter.macsec_secy_args(entry, material)
    for secret in _keys.secrets_of(material):
        with pytest.raises(AnsibleFilterError) as error:
            kernel_filter.macsec_secy_args(entry, material)
        assert secret not in str(error.value)


@pytest.mark.parametrize('options', [
    {},
    {'generation': 6, 'port': 3, 'replay_window': 128, 'validate': 'disabled'},
    {'cipher': 'gcm-aes-xpn-128', 'generation': 3, 'mtu': 9000},
    {'cipher': 'gcm-aes-256', 'icv_len': 8, 'send_sci': False, 'encrypt': False, 'replay_protect': False},
], ids=['defaults', 'generation-6', 'xpn', 'no-sci'])
def test_the_module_accepts_what_the_filter_gives(options):
    entry, material = entry_and_material(hosts=('node-a', 'node-b', 'node-c'), **options)
    args = kernel_filter.macsec_secy_args(entry, material)
    spec = _secy.normalize_spec(module_params(args), _keys.key_id)
    an = kernel_filter.an_of_generation(material['generation'])
    link_options = entry['options']
    assert spec['name'] == link_options['macsec_ifname'] and spec['parent'] == 'eth1'
    assert spec['link']['cipher'] == link_options['cipher'] and spec['link']['port'] == link_options['port']
    assert spec['link']['include_sci'] == link_options['send_sci']
    assert spec['link']['window'] == link_options['replay_window']
    assert spec['link']['icv_len'] == link_options['icv_len'] and spec['mtu'] == link_options['mtu']
    assert spec['link']['encoding_sa'] == an and list(spec['tx_sas']) == [an]
    tx = spec['tx_sas'][an]
    assert (tx['key'], tx['key_id'], tx['pn'], tx['active']) == (material['tx']['sak'], material['tx']['key_id'], 1,
                                                                 True)
    assert tx.get('ssci') == material['tx'].get('ssci')
    assert spec['salt'] == material.get('salt')
    peers = {peer['host']: peer['sci'] for peer in entry['peers']}
    assert sorted(spec['rx_scs']) == sorted(peers.values())
    for record in material['rx']:
        sa = spec['rx_scs'][peers[record['host']]]['sas'][an]
        assert (sa['key'], sa['key_id'], sa.get('ssci')) == (record['sak'], record['key_id'], record.get('ssci'))
    # The key id the kernel will report is the one derived for the key (idempotence rests on it).
    assert tx['key_id'] == _keys.key_id(tx['key'])
    # And it plans: a whole SecY, receivers first.
    parent = {'index': 2, 'name': 'eth1', 'mac': '52:54:00:0a:00:01', 'mtu': 9100, 'up': True, 'ipv6': True}
    changes = _secy.plan(spec, None, parent)
    assert [change['op'] for change in changes][:2] == ['add_link', 'add_rxsc']
    assert ('set_parent_ipv6', False) in [(change['op'], change.get('enabled')) for change in changes]


# ---------------------------------------------------------------------------------------------------------------
# macsec_confirm_plan and macsec_confirm_verdicts: which links wait for a confirmation, and the verdict on each

SCIS = {'node-a': '5254000a00010001', 'node-b': '5254000b00010001', 'node-c': '5254000c00010001'}


def confirm_plan_of(links, provider='kernel'):
    """A plan (macsec_topology phase=plan) of `links` {name: [hosts]}: each host's entries, as the filters read them."""
    hosts = {}
    for name, ends in links.items():
        for host in ends:
            hosts.setdefault(host, {'links': []})['links'].append({
                'name': name, 'provider': provider, 'options': {'macsec_ifname': 'ms' + name},
                'end': {'host': host, 'sci': SCIS[host]},
                'peers': [{'host': peer, 'sci': SCIS[peer]} for peer in ends if peer != host]})
    return {'hosts': hosts}


def applied(**pending):
    """macsec_secy's registered loop on each host: {host: [link names whose change is pending]}."""
    return {host: {'kernel_secys': {'results': [{'kernel_link_name': name, 'changed': True, 'pending': True}
                                                for name in names]}}
            for host, names in pending.items()}


PLAN = confirm_plan_of({'ab': ['node-a', 'node-b'], 'bc': ['node-b', 'node-c']})
HOSTS = ['node-a', 'node-b', 'node-c']


def test_confirm_plan_reads_the_async_status_loop_of_the_kernel_role():
    # The role waits for each detached change with async_status in a loop over the converge results (kernel_job).
    hostvars = {'node-a': {'kernel_jobs': {'results': [
        {'kernel_job': {'kernel_link_name': 'ab', 'ansible_job_id': 'j1'}, 'finished': 1, 'pending': True}]}}}
    result = kernel_filter.macsec_confirm_plan(PLAN, hostvars, HOSTS, 'kernel_jobs')
    assert sorted(result['links']) == ['ab'] and result['links']['ab']['pending'] == ['node-a']


def test_confirm_plan_holds_the_links_with_a_pending_end_and_probes_all_their_ends():
    hostvars = applied(**{'node-a': ['ab'], 'node-b': []})
    hostvars['node-c'] = {'kernel_secys': {'results': [{'kernel_link_name': 'bc', 'changed': False,
                                                        'pending': False}]}}
    result = kernel_filter.macsec_confirm_plan(PLAN, hostvars, HOSTS)
    assert result == {'links': {'ab': {'ifname': 'msab', 'ends': ['node-a', 'node-b'], 'pending': ['node-a'],
                                       'unreachable': [], 'outside': []}},
                      'probe': {'node-a': ['msab'], 'node-b': ['msab']}}


@pytest.mark.parametrize('registered', [{'unreachable': True, 'msg': 'timed out'},
                                        {'results': [{'kernel_link_name': 'bc', 'unreachable': True}]}])
def test_confirm_plan_holds_the_links_of_an_end_the_controller_lost(registered):
    hostvars = applied(**{'node-a': [], 'node-b': []})
    hostvars['node-c'] = {'kernel_secys': registered}
    result = kernel_filter.macsec_confirm_plan(PLAN, hostvars, HOSTS)
    assert result['links'] == {'bc': {'ifname': 'msbc', 'ends': ['node-b', 'node-c'], 'pending': [],
                                      'unreachable': ['node-c'], 'outside': []}}
    assert result['probe'] == {'node-b': ['msbc'], 'node-c': ['msbc']}


def test_confirm_plan_leaves_out_other_providers_and_hosts_without_the_result():
    plan = confirm_plan_of({'ab': ['node-a', 'node-b']}, provider='mka')
    result = kernel_filter.macsec_confirm_plan(plan, applied(**{'node-a': ['ab']}), HOSTS)
    assert result == {'links': {}, 'probe': {}}
    assert kernel_filter.macsec_confirm_plan(PLAN, {}, HOSTS) == {'links': {}, 'probe': {}}


def heard(ifname, host, *peers, received=4):
    """A probe result (macsec_confirm state=probe) of `host` for its SecY `ifname` that heard `peers` (the others
    of the plan's entry are listed unheard)."""
    entry = [link for link in confirm_plan_of(LINKS)['hosts'][host]['links'] if 'ms' + link['name'] == ifname][0]
    secy_peers = {peer['sci']: {'an': 1, 'received': received if peer['host'] in peers else 0,
                                'ok': peer['host'] in peers} for peer in entry['peers']}
    return {'changed': False, 'secys': {ifname: {'pending': True, 'interface': True, 'peers': secy_peers,
                                                 'ok': all(peer['ok'] for peer in secy_peers.values())}}}


LINKS = {'abc': ['node-a', 'node-b', 'node-c'], 'bc': ['node-b', 'node-c']}


def verdicts(probes, pending=('node-a', 'node-b', 'node-c')):
    plan = confirm_plan_of(LINKS)
    confirm = kernel_filter.macsec_confirm_plan(plan, applied(**{host: ['abc'] for host in pending}), HOSTS)
    hostvars = {host: {'kernel_probe': probe} for host, probe in probes.items()}
    return kernel_filter.macsec_confirm_verdicts(confirm, plan, hostvars)


def all_heard():
    return {'node-a': heard('msabc', 'node-a', 'node-b', 'node-c'),
            'node-b': heard('msabc', 'node-b', 'node-a', 'node-c'),
            'node-c': heard('msabc', 'node-c', 'node-a', 'node-b')}


def test_a_link_whose_every_end_heard_every_peer_is_confirmed_and_committed_on_each_pending_end():
    result = verdicts(all_heard())
    assert result == {'links': {'abc': {'confirmed': True, 'reasons': [], 'ends': ['node-a', 'node-b', 'node-c']}},
                      'commit': {'node-a': ['msabc'], 'node-b': ['msabc'], 'node-c': ['msabc']}, 'failed': {},
                      'unprobed': {}}
    assert 'bc' not in result['links']  # unchanged: not probed, not judged


def test_commit_lists_only_the_pending_ends_of_a_confirmed_link():
    result = verdicts(all_heard(), pending=('node-a',))
    assert result['links']['abc']['confirmed'] is True
    assert result['commit'] == {'node-a': ['msabc']} and result['failed'] == {}


def test_one_peer_unheard_fails_the_link_on_all_its_ends():
    probes = all_heard()
    probes['node-c'] = heard('msabc', 'node-c', 'node-a')
    result = verdicts(probes, pending=('node-a',))
    assert result['links']['abc'] == {'confirmed': False, 'ends': ['node-a', 'node-b', 'node-c'], 'reasons': [
        'node-c received no protected frame from node-b (SCI %s) on AN 1 in 30 s' % SCIS['node-b']]}
    assert result['commit'] == {}
    assert result['failed'] == {'node-a': ['abc'], 'node-b': ['abc'], 'node-c': ['abc']}


@pytest.mark.parametrize('probe, reason', [
    ({'unreachable': True, 'msg': 'ssh: timed out'},
     'node-b could not be reached to probe (its SSH may cross this link)'),
    ({'failed': True, 'msg': 'netlink refused a request: EPERM'},
     'node-b: the probe failed: netlink refused a request: EPERM'),
    ({'skipped': True, 'changed': False}, 'node-b did not probe'),
    (None, 'node-b did not probe'),
    ({'secys': {}}, 'node-b has no SecY msabc'),
    ({'secys': {'msabc': {'interface': False, 'peers': {}, 'ok': False}}}, 'node-b has no SecY msabc'),
    ({'secys': {'msabc': {'interface': True, 'pending': True, 'peers': {}, 'ok': False}}},
     'node-b has no RX SA to hear its peers on'),
    ({'secys': {'msabc': {'interface': True, 'pending': False, 'ok': True, 'peers': {
        SCIS['node-a']: {'an': 1, 'received': 3, 'ok': True},
        SCIS['node-c']: {'an': 1, 'received': 3, 'ok': True}}}}},
     'node-b rolled its change back before the probe (raise kernel_confirm_timeout)'),
    ({'secys': {'msabc': {'interface': True, 'pending': True, 'ok': False, 'peers': {
        SCIS['node-a']: {'an': 1, 'received': 3, 'ok': True},
        SCIS['node-c']: {'an': 1, 'received': None, 'ok': False}}}}},
     'node-b received no protected frame from node-c (SCI %s) on AN 1 in 30 s: it has no such RX SA'
     % SCIS['node-c']),
])
def test_each_reason_an_end_fails_names_the_host(probe, reason):
    probes = all_heard()
    if probe is None:
        del probes['node-b']
    else:
        probes['node-b'] = probe
    result = verdicts(probes)
    assert result['links']['abc']['confirmed'] is False
    assert result['links']['abc']['reasons'] == [reason]
    assert result['commit'] == {} and sorted(result['failed']) == ['node-a', 'node-b', 'node-c']


def test_verdicts_take_the_timeout_and_the_register_given():
    probes = all_heard()
    probes['node-a'] = heard('msabc', 'node-a', 'node-b')
    plan = confirm_plan_of(LINKS)
    confirm = kernel_filter.macsec_confirm_plan(plan, {host: {'secy_run': {'results': [
        {'kernel_link_name': 'abc', 'pending': True}]}} for host in HOSTS}, HOSTS, register='secy_run')
    result = kernel_filter.macsec_confirm_verdicts(confirm, plan, {host: {'probe_run': probe}
                                                                   for host, probe in probes.items()},
                                                   register='probe_run', timeout=12)
    assert result['links']['abc']['reasons'] == [
        'node-a received no protected frame from node-c (SCI %s) on AN 1 in 12 s' % SCIS['node-c']]


def test_batches_follow_the_inventory_order_and_keep_a_segment_whole():
    plan = confirm_plan_of({'seg': ['node-a', 'node-b', 'node-c'], 'ab': ['node-a', 'node-b'],
                            'bc': ['node-b', 'node-c']})
    plan['links'] = ['bc', 'seg', 'ab']
    assert kernel_filter.macsec_link_batches(plan, 2) == [['bc', 'seg'], ['ab']]
    assert kernel_filter.macsec_link_batches(plan, 1) == [['bc'], ['seg'], ['ab']]
    assert kernel_filter.macsec_link_batches(plan) == [['bc', 'seg', 'ab']]  # 0: one batch of all


def test_batches_leave_out_other_providers_and_refuse_a_bad_size():
    plan = confirm_plan_of({'ab': ['node-a', 'node-b']}, provider='wpa_supplicant')
    assert kernel_filter.macsec_link_batches(plan, 1) == []
    with pytest.raises(AnsibleFilterError, match='batch size must be 0'):
        kernel_filter.macsec_link_batches(PLAN, -1)
    with pytest.raises(AnsibleFilterError, match='must be a number of links'):
        kernel_filter.macsec_link_batches(PLAN, 'ten')


def test_confirm_plan_of_a_batch_leaves_the_other_batches_links_alone():
    # A host the controller lost has all its links flagged; only the batch's are probed and judged.
    hostvars = {'node-b': {'kernel_jobs': {'unreachable': True, 'results': []}}}
    result = kernel_filter.macsec_confirm_plan(PLAN, hostvars, HOSTS, 'kernel_jobs', ['bc'])
    assert sorted(result['links']) == ['bc']
    assert result['links']['bc']['unreachable'] == ['node-b']
    assert result['probe'] == {'node-b': ['msbc'], 'node-c': ['msbc']}


def test_confirm_plan_reads_the_change_and_the_wait_for_its_detached_part_together():
    # Attached changes report pending in the converge loop; detached ones only in the async_status loop after it.
    hostvars = {'node-a': {'kernel_secys': {'results': [{'kernel_link_name': 'ab', 'pending': True}]}},
                'node-b': {'kernel_secys': {'results': [{'kernel_link_name': 'bc', 'ansible_job_id': 'j2'}]},
                           'kernel_jobs': {'results': [{'kernel_job': {'kernel_link_name': 'bc'}, 'pending': True}]}},
                'node-c': {'kernel_secys': {'results': []}, 'kernel_jobs': {'unreachable': True, 'results': []}}}
    result = kernel_filter.macsec_confirm_plan(PLAN, hostvars, HOSTS, ['kernel_secys', 'kernel_jobs'])
    assert result['links']['ab']['pending'] == ['node-a']
    assert result['links']['bc']['pending'] == ['node-b']
    assert result['links']['bc']['unreachable'] == ['node-c']


def test_a_link_with_a_peer_outside_the_play_is_committed_without_a_probe():
    # site.yml --limit node-a, or a peer Ansible does not manage: it cannot probe, so the link is not probed at all.
    hostvars = applied(**{'node-a': ['ab']})
    confirm = kernel_filter.macsec_confirm_plan(PLAN, hostvars, ['node-a'])
    assert confirm['links']['ab']['outside'] == ['node-b'] and confirm['probe'] == {}
    result = kernel_filter.macsec_confirm_verdicts(confirm, PLAN, {})
    assert result['commit'] == {'node-a': ['msab']} and result['failed'] == {}
    assert result['unprobed'] == {'ab': ['node-b']}


def batch_verdicts(**confirmed):
    return {'links': {name: {'confirmed': ok} for name, ok in confirmed.items()}, 'commit': {}, 'failed': {}}


def test_batch_stop_names_the_batch_and_the_setting_when_more_failed_than_the_percentage():
    stop = kernel_filter.macsec_batch_stop
    assert stop(batch_verdicts(ab=False), ['ab', 'cd'], 1, 0, 'kernel_max_fail_percentage') == (
        '1 of the 2 link(s) of batch 2 were not confirmed (more than kernel_max_fail_percentage 0%); '
        'no further batch started.')
    assert stop(batch_verdicts(ab=False, cd=True), ['ab', 'cd'], 0, 50, 'x') == ''  # exactly the share allowed
    assert stop(batch_verdicts(ab=False, cd=False), ['ab', 'cd'], 0, '50', 'x').startswith('2 of the 2 link(s) of batch 1')
    assert stop(batch_verdicts(ab=True), ['ab'], 0, 0, 'x') == ''
    assert stop({}, [], 0, 0, 'x') == ''
    with pytest.raises(AnsibleFilterError, match='wpa_supplicant_max_fail_percentage must be a percentage'):
        stop(batch_verdicts(), ['ab'], 0, 'many', 'wpa_supplicant_max_fail_percentage')
