# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The action l2sec.macsec.macsec_keys: derived keys for one host, always no_log, errors without secrets."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.l2sec.macsec.plugins.action.macsec_keys import ActionModule
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.tests.unit.plugins.action.controller_action import RecordingTemplar, run_controller_action

MASTER = 'a1' * 16 + '0f1e2d3c4b5a6978' * 2


def run(args, task_vars=None):
    templar = RecordingTemplar({'{{ vault_macsec_master_secret }}': MASTER})
    result = run_controller_action(ActionModule, args, task_vars if task_vars is not None else {'inventory_hostname': 'node-a'},
                                   templar)
    return result, templar


def kernel_link(**options):
    link = {'name': 'rack1-ab', 'provider': 'kernel', 'generation': 2,
            'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    link.update(options)
    return link


def test_result_is_no_log_and_holds_this_hosts_keys():
    result, dummy = run({'link': kernel_link(), 'master_secret': MASTER})
    assert result['_ansible_no_log'] is True
    assert result['changed'] is False
    master = _keys.master_secret_bytes(MASTER)
    expected = _keys.derive_sak(master, 'rack1-ab', 2, 'gcm-aes-128', 'node-a', 'eth1', 1)
    assert result['material']['tx']['sak'] == expected
    assert result['material']['rx'][0]['host'] == 'node-b'
    assert result['fingerprints']['tx']['sak'] == _keys.fingerprint(result['material']['tx']['sak'])


def test_master_secret_defaults_to_the_templated_inventory_variable():
    task_vars = {'inventory_hostname': 'node-b', 'macsec_master_secret': '{{ vault_macsec_master_secret }}'}
    result, templar = run({'links': [kernel_link(), kernel_link(name='rack1-xy')]}, task_vars)
    assert templar.templated == ['{{ vault_macsec_master_secret }}']
    assert sorted(result['material']) == ['rack1-ab', 'rack1-xy']
    assert result['material']['rack1-ab']['tx']['host'] == 'node-b'
    assert result['material']['rack1-ab']['tx']['sak'] != result['material']['rack1-xy']['tx']['sak']


def test_explicit_keys_need_no_master_secret_and_host_can_be_given():
    link = kernel_link(ends=[{'host': 'node-a', 'interface': 'eth1', 'sak': '0a' * 16},
                             {'host': 'node-b', 'interface': 'eth1', 'sak': '0b' * 16}])
    result, dummy = run({'link': link, 'host': 'node-b'}, {})
    assert result['material']['tx']['sak'] == '0b' * 16 and result['material']['rx'][0]['sak'] == '0a' * 16


def test_errors_name_the_field_and_never_carry_a_secret():
    bad_cak = 'cafe' * 7 + 'ba'
    link = {'name': 'mka', 'provider': 'wpa_supplicant', 'cak': bad_cak, 'ckn': 'beef',
            'ends': [{'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]}
    result, dummy = run({'link': link, 'master_secret': MASTER})
    assert result['failed'] is True and '_ansible_no_log' not in result
    assert result['msg'] == ('key material: macsec_links[mka].cak: has 30 hex digits: it must be 32 or 64 hex digits '
                             '(a 128-bit or 256-bit CAK)')
    text = json.dumps(result)
    assert bad_cak not in text and MASTER not in text


def test_a_weak_master_secret_is_refused_without_being_shown():
    result, dummy = run({'link': kernel_link(), 'master_secret': 'hunter2hunter2'})
    assert result['failed'] is True
    assert result['msg'].startswith('key material: macsec_master_secret: is 14 characters long')
    assert 'hunter2' not in result['msg']


def test_missing_master_secret_is_named():
    result, dummy = run({'link': kernel_link()})
    assert result['msg'].startswith('key material: macsec_master_secret: is not set, and link rack1-ab derives')


def test_plan_entries_are_accepted():
    entry = {'name': 'rack1-ab', 'provider': 'kernel', 'options': {'generation': 2, 'cipher': 'gcm-aes-128'},
             'end': {'host': 'node-a', 'index': 0, 'interface': 'eth1', 'port': 1, 'sci': '5254000a00010001'},
             'peers': [{'host': 'node-b', 'index': 1, 'interface': 'eth1', 'port': 1, 'sci': '5254000b00010001'}]}
    from_plan, dummy = run({'link': entry, 'master_secret': MASTER})
    from_inventory, dummy = run({'link': kernel_link(), 'master_secret': MASTER})
    assert from_plan['material']['tx']['sak'] == from_inventory['material']['tx']['sak']
    assert from_plan['material']['tx']['sci'] == '5254000a00010001'


def test_argument_errors():
    with pytest.raises(AnsibleActionFail):
        run({})  # neither link nor links
    with pytest.raises(AnsibleActionFail):
        run({'link': kernel_link(), 'links': [kernel_link()]})
    result, dummy = run({'link': {'name': 'x'}, 'master_secret': MASTER})
    assert result['failed'] is True and 'with name and provider' in result['msg']


def eap_link(**radius):
    return {'name': 'eap-ab', 'provider': 'wpa_supplicant', 'mode': 'eap',
            'radius': dict({'host': '192.0.2.9', 'port': 1812}, **radius),
            'ends': [{'host': 'node-a', 'interface': 'eth2', 'eap_role': 'authenticator'},
                     {'host': 'node-b', 'interface': 'eth2', 'eap_role': 'supplicant'}]}


def test_radius_secret_for_the_authenticator_and_the_radius_server_host():
    master = _keys.master_secret_bytes(MASTER)
    expected = _keys.derive_radius_secret(master, 'eap-ab', 1)
    authenticator, dummy = run({'link': eap_link(server_host='radius-1'), 'master_secret': MASTER})
    assert authenticator['_ansible_no_log'] is True
    assert authenticator['material']['radius_secret'] == expected
    assert authenticator['fingerprints']['radius_secret'] == _keys.fingerprint(expected)
    assert expected not in json.dumps(authenticator['fingerprints'])
    # The server is no end of the link: with links= (as roles call it) it gets the secret alone.
    server, dummy = run({'links': [eap_link(server_host='radius-1')], 'master_secret': MASTER},
                        {'inventory_hostname': 'radius-1'})
    assert server['_ansible_no_log'] is True
    assert server['material']['eap-ab'] == {'link': 'eap-ab', 'provider': 'wpa_supplicant', 'generation': 1,
                                            'cipher': 'gcm-aes-128', 'radius_secret': expected}


def test_a_host_that_is_neither_end_nor_radius_server_is_refused():
    result, dummy = run({'link': eap_link(), 'master_secret': MASTER}, {'inventory_hostname': 'radius-1'})
    assert result['failed'] is True
    assert result['msg'].startswith('key material: macsec_links[eap-ab].ends: has 0 end(s) on host radius-1')
