# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.l2sec.macsec.plugins.action.macsec_topology import ActionModule
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology
from ansible_collections.l2sec.macsec.tests.unit.plugins.action.controller_action import RecordingTemplar, run_controller_action

HOSTS = ['node-a', 'node-b', 'node-c']
SAK_A = '0123456789abcdef0123456789abcdef'
SAK_B = 'fedcba9876543210fedcba9876543210'


def kernel_link(name='rack1-ab', **options):
    link = {'name': name, 'provider': 'kernel',
            'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    link.update(options)
    return link


def keyed_link():
    return kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1', 'sak': SAK_A},
                             {'host': 'node-b', 'interface': 'eth1', 'sak': SAK_B}])


MACS = {'node-a': {'eth1': '52:54:00:0a:00:01'}, 'node-b': {'eth1': '52:54:00:0b:00:01'}}


def run(args, task_vars=None):
    templar = RecordingTemplar()
    result = run_controller_action(ActionModule, args, task_vars if task_vars is not None else {'groups': {'all': HOSTS}},
                                   templar)
    return result, templar


@pytest.fixture
def providers_available(monkeypatch):
    for entry in _topology.PROVIDERS.values():
        monkeypatch.setitem(entry, 'available', True)


def test_validate_lists_every_error_and_fails():
    links = [kernel_link(ciphr='gcm-aes-256'), kernel_link('rack1-bc', port=0, ends=[
        {'host': 'node-b', 'interface': 'eth2'}, {'host': 'node-x', 'interface': 'eth2'}])]
    result, dummy = run({'phase': 'validate', 'links': links})
    assert result['failed'] is True
    assert result['changed'] is False
    assert [error.split(':')[0] for error in result['errors']] == [
        'macsec_links[rack1-ab].ciphr', 'macsec_links[rack1-bc].port', 'macsec_links[rack1-bc].ends[1] (node-x).host']
    assert result['msg'].startswith('macsec_links has 3 error(s); no host was contacted and nothing was changed:\n')
    assert result['msg'].endswith('\n'.join(result['errors']))


def ike_link(name='rack1-ab', auth='pubkey'):
    return kernel_link(name, ipsec={'auth': auth}, ends=[{'host': 'node-a', 'interface': 'eth1', 'address': '10.9.0.1/24'},
                                                         {'host': 'node-b', 'interface': 'eth1', 'address': '10.9.0.2/24'}])


def test_validate_refuses_an_end_whose_certificate_revoked_hosts_revokes():
    links = [ike_link()]
    result, dummy = run({'phase': 'validate', 'links': links, 'revoked_hosts': ['node-a']})
    assert result['failed'] is True
    assert [error.split(':')[0] for error in result['errors']] == ['macsec_links[rack1-ab].ends[0] (node-a).host']
    result, dummy = run({'phase': 'validate', 'links': links})
    assert 'failed' not in result


def test_validate_returns_normalized_links_without_key_values():
    result, dummy = run({'links': [keyed_link()]})  # phase defaults to validate
    assert 'failed' not in result
    assert result['links'][0]['macsec_ifname'] == 'msrack1-ab'
    assert result['links'][0]['ends'][0]['sak'] == _topology.REDACTED
    text = json.dumps(result)
    assert SAK_A not in text and SAK_B not in text
    assert '_ansible_no_log' not in result


def test_validate_errors_never_show_key_values():
    link = kernel_link(cipher='gcm-aes-256', ends=[{'host': 'node-a', 'interface': 'eth1', 'sak': SAK_A},
                                                   {'host': 'node-b', 'interface': 'eth1', 'sak': SAK_B}])
    result, dummy = run({'links': [link]})
    assert result['failed'] is True
    assert len(result['errors']) == 2
    assert SAK_A not in json.dumps(result) and SAK_B not in json.dumps(result)


def test_validate_defaults_to_the_macsec_links_variable_and_groups_all():
    task_vars = {'macsec_links': [kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1'},
                                                    {'host': 'node-z', 'interface': 'eth1'}])],
                 'groups': {'all': ['node-a', 'node-z']}}
    result, templar = run({'phase': 'validate'}, task_vars)
    assert 'failed' not in result
    assert templar.templated == [task_vars['macsec_links']]
    result, dummy = run({'phase': 'validate'}, dict(task_vars, groups={'all': ['node-a']}))
    assert result['errors'][0].startswith('macsec_links[rack1-ab].ends[1] (node-z).host: is not an inventory host')


def test_validate_uses_the_given_hosts():
    result, dummy = run({'links': [kernel_link()], 'hosts': ['node-a']})
    assert result['failed'] is True
    assert result['errors'][0].startswith('macsec_links[rack1-ab].ends[1] (node-b).host')


def test_an_undefined_macsec_links_fails_naming_a_likely_typo():
    with pytest.raises(AnsibleActionFail, match=r'macsec_links is not defined \(the inventory defines macsec_link: '):
        run({}, {'macsec_link': [], 'groups': {'all': HOSTS}})
    with pytest.raises(AnsibleActionFail, match='macsec_links is not defined: describe'):
        run({}, {'groups': {'all': HOSTS}})


def test_an_empty_fleet_is_valid():
    result, dummy = run({}, {'macsec_links': [], 'groups': {'all': HOSTS}})
    assert result['links'] == []
    assert 'failed' not in result


def test_unknown_arguments_and_phases_are_refused():
    with pytest.raises(AnsibleActionFail):
        run({'phase': 'apply', 'links': []})
    with pytest.raises(AnsibleActionFail):
        run({'phase': 'validate', 'links': [], 'hostz': []})


def test_plan_fails_while_a_provider_is_not_available(monkeypatch):
    # Every provider of this release is available: the refusal is for a provider whose role has not landed.
    monkeypatch.setitem(_topology.PROVIDERS['wpa_supplicant'], 'available', False)
    result, dummy = run({'phase': 'plan', 'links': [kernel_link(provider='wpa_supplicant')], 'host_macs': MACS})
    assert result['failed'] is True
    assert result['errors'] == [
        "macsec_links[rack1-ab].provider: provider 'wpa_supplicant' is not available yet in l2sec.macsec %s: this "
        "release validates the topology and runs preflight only; nothing was changed on any host. Keep the link and "
        "upgrade to a release that ships the wpa_supplicant provider" % _topology.COLLECTION_VERSION]


def test_plan_of_a_kernel_link_needs_no_monkeypatch():
    result, dummy = run({'phase': 'plan', 'links': [kernel_link()], 'host_macs': MACS})
    assert 'failed' not in result and sorted(result['hosts']) == ['node-a', 'node-b']


def test_plan_returns_each_hosts_part(providers_available):
    result, dummy = run({'phase': 'plan', 'links': [kernel_link()], 'host_macs': MACS})
    assert 'failed' not in result
    assert sorted(result['hosts']) == ['node-a', 'node-b']
    assert result['hosts']['node-a']['links'][0]['peers'][0]['sci'] == '5254000b00010001'
    assert '_ansible_no_log' not in result


def test_plan_with_explicit_keys_is_no_log(providers_available):
    result, dummy = run({'phase': 'plan', 'links': [keyed_link()], 'host_macs': MACS})
    assert result['_ansible_no_log'] is True
    assert result['hosts']['node-a']['links'][0]['end']['sak'] == SAK_A


def test_plan_reports_mac_errors_and_missing_providers_together(monkeypatch):
    monkeypatch.setitem(_topology.PROVIDERS['wpa_supplicant'], 'available', False)
    result, dummy = run({'phase': 'plan', 'links': [kernel_link(provider='wpa_supplicant')],
                         'host_macs': {'node-a': {}, 'node-b': MACS['node-b']}})
    assert [error.split(':')[0] for error in result['errors']] == [
        'macsec_links[rack1-ab].ends[0] (node-a).interface', 'macsec_links[rack1-ab].provider']
    assert result['msg'].startswith('macsec_links has 2 error(s); nothing was changed:\n')


def test_plan_reads_the_preflight_reports_of_the_play_hosts(providers_available):
    report = {'interfaces': {'eth1': {'mac': '52:54:00:0a:00:01', 'mtu': 1500}, 'lo': {'mac': '00:00:00:00:00:00'}}}
    link = kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1'},
                             {'host': 'node-b', 'interface': 'eth1', 'mac': '52:54:00:0b:00:01'}])
    task_vars = {'macsec_links': [link], 'ansible_play_hosts': ['node-a'],
                 'hostvars': {'node-a': {'preflight_report': report}, 'node-b': {}}}
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert list(result['hosts']) == ['node-a']
    assert result['hosts']['node-a']['links'][0]['end']['mac'] == '52:54:00:0a:00:01'


def test_plan_without_preflight_reports_says_what_to_run():
    task_vars = {'macsec_links': [kernel_link()], 'ansible_play_hosts': ['node-a', 'node-b'],
                 'hostvars': {'node-a': {'preflight_report': {'interfaces': {}}}, 'node-b': {}}}
    with pytest.raises(AnsibleActionFail, match='no preflight_report for node-b: run the l2sec.macsec.preflight role'):
        run({'phase': 'plan'}, task_vars)


# --- phase=plan: the generations the hosts retired ---------------------------------------------------------------

def preflight_vars(links, retired, play_hosts=('node-a', 'node-b')):
    """Task vars of a plan after preflight: each host's report has its NIC and `retired` of that host (if any)."""
    hostvars = {}
    for host, mac in (('node-a', '52:54:00:0a:00:01'), ('node-b', '52:54:00:0b:00:01')):
        report = {'interfaces': {'eth%d' % number: {'mac': mac[:-1] + str(number), 'mtu': 1500}
                                 for number in (1, 2, 3)}}
        if host in retired:
            report['retired_generations'] = retired[host]
        hostvars[host] = {'preflight_report': report}
    return {'macsec_links': links, 'ansible_play_hosts': list(play_hosts), 'hostvars': hostvars}


def test_plan_raises_a_generation_above_what_the_hosts_retired(providers_available):
    task_vars = preflight_vars([kernel_link(generation=2)], {'node-a': {'rack1-ab': 2}, 'node-b': {'rack1-ab': 3}})
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert 'failed' not in result
    assert result['generations'] == {'rack1-ab': 4}
    assert result['msg'] == 'planned 2 host(s); generation raised above what the hosts retired: rack1-ab 2 -> 4'
    for host in ('node-a', 'node-b'):
        assert result['hosts'][host]['links'][0]['options']['generation'] == 4
    assert task_vars['macsec_links'][0]['generation'] == 2  # the inventory is not changed


def test_plan_names_every_raised_link_in_order(providers_available):
    links = [kernel_link('rack1-zz'), kernel_link('rack1-ab', ends=[{'host': 'node-a', 'interface': 'eth2'},
                                                                    {'host': 'node-b', 'interface': 'eth2'}]),
             kernel_link('rack1-kept', generation=9, ends=[{'host': 'node-a', 'interface': 'eth3'},
                                                           {'host': 'node-b', 'interface': 'eth3'}])]
    task_vars = preflight_vars(links, {'node-a': {'rack1-zz': 1, 'rack1-ab': 4, 'rack1-kept': 8}})
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert 'failed' not in result, result.get('msg')
    assert result['generations'] == {'rack1-zz': 2, 'rack1-ab': 5}
    assert result['msg'].endswith('; generation raised above what the hosts retired: rack1-ab 1 -> 5, '
                                  'rack1-zz 1 -> 2')
    generations = {entry['name']: entry['options']['generation'] for entry in result['hosts']['node-b']['links']}
    assert generations == {'rack1-zz': 2, 'rack1-ab': 5, 'rack1-kept': 9}


def test_plan_without_retired_generations_says_nothing_of_them(providers_available):
    task_vars = preflight_vars([kernel_link(generation=3)], {'node-a': {}, 'node-b': {'rack1-xx': 7}})
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert 'generations' not in result and result['msg'] == 'planned 2 host(s)'
    assert result['hosts']['node-a']['links'][0]['options']['generation'] == 3


def test_plan_reads_the_retired_generations_of_the_play_hosts_only(providers_available):
    task_vars = preflight_vars([kernel_link()], {'node-a': {'rack1-ab': 1}, 'node-b': {'rack1-ab': 6}},
                               play_hosts=['node-a'])
    task_vars['macsec_links'][0]['ends'][1]['mac'] = '52:54:00:0b:00:01'
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert result['generations'] == {'rack1-ab': 2}
    assert result['hosts']['node-a']['links'][0]['options']['generation'] == 2


def test_plan_ignores_a_retired_record_that_is_not_a_mapping(providers_available):
    task_vars = preflight_vars([kernel_link()], {'node-a': ['rack1-ab'], 'node-b': None})
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert 'failed' not in result and 'generations' not in result


def test_plan_with_host_macs_still_reads_the_retired_generations(providers_available):
    task_vars = preflight_vars([kernel_link()], {'node-b': {'rack1-ab': 2}})
    result, dummy = run({'phase': 'plan', 'host_macs': MACS}, task_vars)
    assert result['generations'] == {'rack1-ab': 3}


def test_a_failed_plan_reports_no_generations(providers_available):
    task_vars = preflight_vars([kernel_link(ends=[{'host': 'node-a', 'interface': 'eth9'},
                                                  {'host': 'node-b', 'interface': 'eth1'}])],
                               {'node-a': {'rack1-ab': 2}})
    result, dummy = run({'phase': 'plan'}, task_vars)
    assert result['failed'] is True and 'generations' not in result
    assert 'generation raised' not in result['msg']


# --- rotate (playbooks/rotate.yml): the named links one generation up, now ----------------------------------------

def test_plan_rotates_the_named_links_one_above_the_generation_they_run(providers_available):
    links = [kernel_link(), kernel_link('rack1-cd', generation=5, ends=[{'host': 'node-a', 'interface': 'eth2'},
                                                                        {'host': 'node-b', 'interface': 'eth2'}])]
    task_vars = preflight_vars(links, {'node-a': {'rack1-ab': 3}})
    result, dummy = run({'phase': 'plan', 'rotate': ['rack1-ab']}, task_vars)
    assert 'failed' not in result, result.get('msg')
    # rack1-ab runs 4 (its end retired 3): the rotation takes it to 5; rack1-cd is not named.
    assert result['generations'] == {'rack1-ab': 5}
    assert result['msg'] == ('planned 2 host(s); generation raised above what the hosts retired: rack1-ab 1 -> 4; '
                             'rotated to the next generation: rack1-ab 4 -> 5')
    generations = {entry['name']: entry['options']['generation'] for entry in result['hosts']['node-a']['links']}
    assert generations == {'rack1-ab': 5, 'rack1-cd': 5}
    assert task_vars['macsec_links'][0].get('generation') is None  # the inventory is not changed


def test_plan_rotates_all_links_whose_keys_derive_and_leaves_given_keys_alone(providers_available):
    links = [kernel_link(generation=2), keyed_link()]
    links[1]['name'] = 'rack1-keyed'
    for end, interface in zip(links[1]['ends'], ('eth2', 'eth2')):
        end['interface'] = interface
    result, dummy = run({'phase': 'plan', 'rotate': ['all']}, preflight_vars(links, {}))
    assert 'failed' not in result, result.get('msg')
    assert result['generations'] == {'rack1-ab': 3}


def test_rotate_refuses_an_unknown_or_keyed_link_in_both_phases_before_any_host(providers_available):
    links = [kernel_link(), keyed_link()]
    links[1]['name'] = 'rack1-keyed'
    for end in links[1]['ends']:
        end['interface'] = 'eth2'
    for args, task_vars in (({'phase': 'validate'}, {'macsec_links': links, 'groups': {'all': HOSTS}}),
                            ({'phase': 'plan'}, preflight_vars(links, {}))):
        result, dummy = run(dict(args, rotate=['rack1-ac', 'rack1-keyed']), task_vars)
        assert result['failed'] is True
        assert "rotate: names no link 'rack1-ac' (did you mean 'rack1-ab'?)" in result['msg']
        assert "rotate: link 'rack1-keyed' has its keys in the inventory" in result['msg']
        assert SAK_A not in str(result)


def test_rotate_refuses_an_8021x_link_and_all_leaves_it_alone(providers_available):
    eap = kernel_link('rack1-eap', provider='wpa_supplicant', mode='eap')
    errors = _topology.rotation_errors([kernel_link(), eap], ['rack1-eap'])
    assert [str(error) for error in errors] == [
        "rotate: link 'rack1-eap' is an 802.1X link (mode eap): its CAK is new at every EAP-TLS authentication; "
        "raise its generation in the inventory to change its RADIUS secret"]
    links, rotated = _topology.rotated([kernel_link(), eap], ['all'])
    assert rotated == {'rack1-ab': (1, 2)} and links[1] is eap
    assert _topology.rotation_errors([kernel_link()], 'rack1-ab')[0].message.startswith('must be a list')
