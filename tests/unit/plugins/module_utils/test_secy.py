# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""One SecY converged (plugins/module_utils/_secy.py): the desired state is checked field by field, the plan is the
fewest changes in an order that keeps traffic flowing and that the kernel accepts, the applier installs every TX
SA above the PN registry's mark, and nothing it shows or keeps in its results holds a key."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import FakeKernel

KEY_A = '1a' * 16  # what this end sends with
KEY_A2 = '2a' * 16  # its next generation
KEY_B = '1b' * 16  # what the peer sends with
KEY_B2 = '2b' * 16
KEY_C = '1c' * 16  # a second peer
KEY_256 = '3d' * 32
SALT = '5a' * 12
MAC = '52:54:00:12:34:56'
SCI = '5254001234560001'
PEER_SCI = '5254001234570001'
PEER2_SCI = '5254001234580001'
PARENT = {'index': 2, 'name': 'eth1', 'mac': MAC, 'mtu': 1500, 'up': True, 'ipv6': None}
ALL_KEYS = (KEY_A, KEY_A2, KEY_B, KEY_B2, KEY_C, KEY_256, SALT)


def key_id_of(key_hex):
    """The tests' default key id: a one-way function of the key, like the collection's, but its own."""
    return hashlib.sha256(b'test key id\x00' + bytes.fromhex(key_hex)).hexdigest()[:32]


def params(**overrides):
    """A point-to-point SecY: one TX SA, one peer with one RX SA, one address."""
    base = {'name': 'macsec0', 'parent': 'eth1', 'tx_sas': [{'an': 0, 'key': KEY_A}],
            'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}]}], 'addresses': ['10.0.1.1/24']}
    base.update(overrides)
    return base


def spec_of(**overrides):
    return _secy.normalize_spec(params(**overrides), key_id_of)


def kernel_sa(sa, pn=1):
    """An SA as read_state() has it: keyid (the kernel's word), the next PN, never a key."""
    found = {'an': sa['an'], 'active': sa['active'], 'pn': pn, 'keyid': sa['key_id'], 'stats': {}}
    if sa.get('ssci') is not None:
        found['ssci'] = sa['ssci']
    return found


def kernel_state(spec, parent_nic=None, **changes):
    """What read_state() returns for a SecY the kernel holds exactly as `spec` asks (then `changes` applied)."""
    parent = parent_nic or PARENT
    link = spec['link']
    state = {
        'index': 7, 'name': spec['name'], 'parent': parent['name'],
        'mtu': spec['mtu'] or parent['mtu'] - 16 - link['icv_len'], 'up': True,
        'addresses': list(spec['addresses'] or ()),
        'link': {
            'sci': nl.format_sci(nl.make_sci(parent['mac'], link['port'])), 'port': link['port'],
            'cipher': link['cipher'], 'cipher_id': nl.CIPHER_IDS[link['cipher']], 'icv_len': link['icv_len'],
            'encoding_sa': link['encoding_sa'], 'validate': link['validate'],
            'window': link['window'] if link['replay_protect'] else None,  # not reported with replay off
            'protect': link['protect'], 'replay_protect': link['replay_protect'], 'oper': True,
            'encrypt': link['encrypt'], 'include_sci': link['include_sci'], 'end_station': link['end_station'],
            'scb': link['scb'], 'offload': link['offload'],
        },
        'tx_sas': {an: kernel_sa(sa, pn=1000 + an) for an, sa in spec['tx_sas'].items()},
        'rx_scs': {sci: {'sci': sci, 'active': sc['active'], 'stats': {},
                         'sas': {an: kernel_sa(sa) for an, sa in sc['sas'].items()}}
                   for sci, sc in spec['rx_scs'].items()},
        'stats': {'secy': {}, 'txsc': {}},
    }
    for name, value in changes.items():
        if name in state['link']:
            state['link'][name] = value
        else:
            state[name] = value
    return state


def ops(changes):
    return [change['op'] for change in changes]


# ---------------------------------------------------------------------------------------------------------------
# normalize_spec: defaults, and each error names its field

def test_defaults_are_filled_in():
    spec = _secy.normalize_spec({'name': 'macsec0', 'parent': 'eth1'}, key_id_of)
    assert spec == {
        'name': 'macsec0', 'parent': 'eth1', 'salt': None, 'tx_sas': {}, 'rx_scs': {}, 'mtu': None,
        'addresses': None, 'parent_ipv6': None, 'overhead': 32, 'mka': False, 'tunnel': None,
        'link': {'port': 1, 'cipher': 'gcm-aes-128', 'icv_len': 16, 'encrypt': True, 'protect': True,
                 'include_sci': True, 'end_station': False, 'scb': False, 'replay_protect': True, 'window': 0,
                 'validate': 'strict', 'offload': 'off', 'encoding_sa': 0},
    }


def test_sas_are_completed_and_keyed_by_an():
    spec = spec_of(tx_sas=[{'an': 2, 'key': KEY_A, 'pn': 77, 'active': False}])
    assert spec['tx_sas'] == {2: {'an': 2, 'key': KEY_A, 'key_id': key_id_of(KEY_A), 'pn': 77, 'active': False}}
    assert spec['rx_scs'] == {PEER_SCI: {'sci': PEER_SCI, 'active': True, 'sas': {
        0: {'an': 0, 'key': KEY_B, 'key_id': key_id_of(KEY_B), 'pn': 1, 'active': True}}}}


def test_key_id_default_comes_from_the_given_function_and_an_explicit_one_is_kept():
    asked = []

    def recording(key_hex):
        asked.append(key_hex)
        return 'ee' * 16

    spec = _secy.normalize_spec(params(tx_sas=[{'an': 0, 'key': ':'.join(['1A'] * 16)},
                                               {'an': 1, 'key': KEY_A2, 'key_id': 'AB' * 16}]), recording)
    assert asked == [KEY_A, KEY_B]  # normalized hex; never asked for a key that has its id
    assert spec['tx_sas'][0]['key_id'] == 'ee' * 16 and spec['tx_sas'][0]['key'] == KEY_A
    assert spec['tx_sas'][1]['key_id'] == 'ab' * 16


def test_rx_sci_comes_from_mac_and_port():
    spec = spec_of(rx_scs=[{'mac': '52:54:00:12:34:57', 'port': 2, 'sas': [{'an': 0, 'key': KEY_B}]},
                           {'mac': '52-54-00-12-34-58', 'sas': []}])
    assert sorted(spec['rx_scs']) == ['5254001234570002', PEER2_SCI]


def test_encoding_sa_defaults_to_the_lowest_active_tx_sa():
    spec = spec_of(tx_sas=[{'an': 3, 'key': KEY_A}, {'an': 1, 'key': KEY_A2, 'active': False}])
    assert spec['link']['encoding_sa'] == 3
    # None active: the lowest TX SA (an encoding SA without a TX SA is an error), else AN 0.
    assert spec_of(tx_sas=[{'an': 3, 'key': KEY_A, 'active': False}])['link']['encoding_sa'] == 3
    assert spec_of(tx_sas=[])['link']['encoding_sa'] == 0


def test_xpn_keeps_salt_and_sscis():
    spec = spec_of(cipher='gcm-aes-xpn-128', salt=SALT.upper(), tx_sas=[{'an': 0, 'key': KEY_A, 'ssci': 1}],
                   rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B, 'ssci': 2}]}])
    assert spec['salt'] == SALT
    assert spec['tx_sas'][0]['ssci'] == 1 and spec['rx_scs'][PEER_SCI]['sas'][0]['ssci'] == 2


def test_mtu_bound_and_overhead_follow_the_icv_length():
    spec = spec_of(icv_len=8, mtu=65535 - 24)
    assert spec['overhead'] == 24 and spec['mtu'] == 65511
    with pytest.raises(_secy.SpecError) as error:
        spec_of(icv_len=8, mtu=65535 - 23)
    assert error.value.field == 'mtu'


def test_addresses_are_normalized_and_deduplicated():
    assert spec_of(addresses=['fd00:0:0::1/64', '10.0.1.1/24', '10.0.1.1/24'])['addresses'] == [
        '10.0.1.1/24', 'fd00::1/64']


@pytest.mark.parametrize('address, kind', [('fe80::1/64', 'link-local'), ('169.254.0.1/16', 'link-local'),
                                           ('127.0.0.2/8', 'loopback')])
def test_addresses_that_are_never_read_back_are_refused(address, kind):
    with pytest.raises(_secy.SpecError) as error:
        spec_of(addresses=['10.0.1.1/24', address])
    assert error.value.field == 'addresses[1]'
    assert 'a %s address: give a global address' % kind in error.value.message


XPN_SA = {'an': 0, 'key': KEY_A, 'ssci': 1}

BAD_SPECS = [
    ('key too short for gcm-aes-256', {'cipher': 'gcm-aes-256'}, 'tx_sas[0].key'),
    ('256-bit key for gcm-aes-128', {'tx_sas': [{'an': 0, 'key': KEY_256}]}, 'tx_sas[0].key'),
    ('rx key length', {'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B[:30]}]}]},
     'rx_scs[0].sas[0].key'),
    ('key not hex', {'tx_sas': [{'an': 0, 'key': 'zz' * 16}]}, 'tx_sas[0].key'),
    ('key missing', {'tx_sas': [{'an': 0}]}, 'tx_sas[0].key'),
    ('key id length', {'tx_sas': [{'an': 0, 'key': KEY_A, 'key_id': 'ab' * 8}]}, 'tx_sas[0].key_id'),
    ('xpn without salt', {'cipher': 'gcm-aes-xpn-128', 'tx_sas': [XPN_SA], 'rx_scs': []}, 'salt'),
    ('xpn salt length', {'cipher': 'gcm-aes-xpn-128', 'salt': SALT[:22], 'tx_sas': [XPN_SA], 'rx_scs': []}, 'salt'),
    ('xpn tx without ssci', {'cipher': 'gcm-aes-xpn-128', 'salt': SALT, 'rx_scs': []}, 'tx_sas[0].ssci'),
    ('xpn rx without ssci', {'cipher': 'gcm-aes-xpn-128', 'salt': SALT, 'tx_sas': [XPN_SA]}, 'rx_scs[0].sas[0].ssci'),
    ('ssci without xpn', {'tx_sas': [{'an': 0, 'key': KEY_A, 'ssci': 1}]}, 'tx_sas[0].ssci'),
    ('salt without xpn', {'salt': SALT}, 'salt'),
    ('duplicate tx an', {'tx_sas': [{'an': 1, 'key': KEY_A}, {'an': 1, 'key': KEY_A2}]}, 'tx_sas[1].an'),
    ('duplicate rx an', {'rx_scs': [{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}, {'an': 0, 'key': KEY_B2}]}]},
     'rx_scs[0].sas[1].an'),
    ('an out of range', {'tx_sas': [{'an': 4, 'key': KEY_A}]}, 'tx_sas[0].an'),
    ('duplicate sci', {'rx_scs': [{'sci': PEER_SCI}, {'mac': '52:54:00:12:34:57', 'port': 1}]}, 'rx_scs[1]'),
    ('sci and mac', {'rx_scs': [{'sci': PEER_SCI, 'mac': '52:54:00:12:34:57'}]}, 'rx_scs[0]'),
    ('no sci nor mac', {'rx_scs': [{'sas': []}]}, 'rx_scs[0]'),
    ('bad sci', {'rx_scs': [{'sci': '5254'}]}, 'rx_scs[0].sci'),
    ('bad mac', {'rx_scs': [{'mac': '52:54:00:12:34'}]}, 'rx_scs[0].mac'),
    ('end_station with include_sci', {'end_station': True}, 'end_station'),
    ('scb with include_sci', {'scb': True}, 'end_station'),
    ('end_station with scb', {'include_sci': False, 'end_station': True, 'scb': True}, 'scb'),
    ('window without replay_protect', {'replay_protect': False, 'window': 32}, 'window'),
    ('xpn window above 2**30 - 1', {'cipher': 'gcm-aes-xpn-128', 'salt': SALT, 'tx_sas': [XPN_SA], 'rx_scs': [],
                                    'window': 1 << 30}, 'window'),
    ('encoding_sa without tx sa', {'encoding_sa': 2}, 'encoding_sa'),
    ('encoding_sa out of range', {'tx_sas': [], 'encoding_sa': 4}, 'encoding_sa'),
    ('bad address', {'addresses': ['10.0.1.1/24', '10.0.1.300/24']}, 'addresses[1]'),
    ('address without prefix is a host route, text is not', {'addresses': ['eth1']}, 'addresses[0]'),
    ('name with slash', {'name': 'mac/sec'}, 'name'),
    ('name too long', {'name': 'm' * 16}, 'name'),
    ('name empty', {'name': ''}, 'name'),
    ('name missing', {'name': None}, 'name'),
    ('parent with space', {'parent': 'eth 1'}, 'parent'),
    ('unknown cipher', {'cipher': 'gcm-aes-192'}, 'cipher'),
    ('icv_len too small', {'icv_len': 7}, 'icv_len'),
    ('port zero', {'port': 0}, 'port'),
    ('port a bool', {'port': True}, 'port'),
    ('mtu too small', {'mtu': 67}, 'mtu'),
    ('validate', {'validate': 'loose'}, 'validate'),
    ('offload', {'offload': 'nic'}, 'offload'),
    ('rx sc not a dict', {'rx_scs': ['peer']}, 'rx_scs[0]'),
    ('sa not a dict', {'tx_sas': [KEY_A]}, 'tx_sas[0]'),
]


@pytest.mark.parametrize('overrides, field', [case[1:] for case in BAD_SPECS], ids=[case[0] for case in BAD_SPECS])
def test_each_error_names_its_field_and_never_a_key(overrides, field):
    with pytest.raises(_secy.SpecError) as error:
        spec_of(**overrides)
    assert error.value.field == field
    assert str(error.value).startswith(field + ': ')
    assert isinstance(error.value, ValueError)
    for secret in ALL_KEYS:
        assert secret not in str(error.value).lower()


def test_xpn_window_at_its_limit_is_accepted():
    spec = spec_of(cipher='gcm-aes-xpn-128', salt=SALT, tx_sas=[XPN_SA], rx_scs=[], window=(1 << 30) - 1)
    assert spec['link']['window'] == nl.XPN_MAX_WINDOW
    assert spec_of(window=(1 << 30))['link']['window'] == 1 << 30  # without XPN the window is 32 bits


# ---------------------------------------------------------------------------------------------------------------
# plan(): pure

def test_plan_creates_everything_receivers_before_transmitters():
    spec = spec_of(rx_scs=[{'sci': PEER2_SCI, 'sas': [{'an': 0, 'key': KEY_C}]},
                           {'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}]}])
    changes = _secy.plan(spec, None, PARENT)
    assert [(change['op'], change.get('sci')) for change in changes] == [
        ('add_link', None), ('add_rxsc', PEER_SCI), ('add_rxsa', PEER_SCI), ('add_rxsc', PEER2_SCI),
        ('add_rxsa', PEER2_SCI), ('add_txsa', None), ('set_mtu', None), ('add_address', None), ('set_up', None)]
    assert changes[0]['text'] == 'add the macsec link macsec0 on eth1 (gcm-aes-128)'
    assert changes[5]['an'] == 0 and key_id_of(KEY_A) in changes[5]['text']
    assert changes[6]['mtu'] == 1500 - (16 + 16)
    assert changes[7]['address'] == '10.0.1.1/24'


def test_plan_prepares_the_parent_before_the_interface():
    spec = spec_of(mtu=1500, parent_ipv6=False)
    parent = dict(PARENT, up=False, ipv6=True)
    assert ops(_secy.plan(spec, None, parent)) == [
        'add_link', 'add_rxsc', 'add_rxsa', 'add_txsa', 'set_parent_mtu', 'set_parent_ipv6', 'set_parent_up',
        'set_mtu', 'add_address', 'set_up']


def test_plan_of_what_the_kernel_already_has_is_empty():
    spec = spec_of(rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}]},
                           {'sci': PEER2_SCI, 'active': False, 'sas': [{'an': 1, 'key': KEY_C, 'active': False}]}],
                   encrypt=False, validate='check', window=64, parent_ipv6=False, mtu=1400)
    assert _secy.plan(spec, kernel_state(spec), PARENT) == []
    xpn = spec_of(cipher='gcm-aes-xpn-256', salt=SALT, tx_sas=[{'an': 1, 'key': KEY_256, 'ssci': 1}],
                  rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 1, 'key': '4e' * 32, 'ssci': 2}]}])
    assert _secy.plan(xpn, kernel_state(xpn), PARENT) == []


def test_a_changed_key_on_the_same_an_is_deactivated_deleted_and_added():
    spec = spec_of()
    current = kernel_state(spec)
    current['tx_sas'][0]['keyid'] = 'c1' * 16
    current['rx_scs'][PEER_SCI]['sas'][0]['keyid'] = 'c2' * 16
    changes = _secy.plan(spec, current, PARENT)
    assert [(change['op'], change['sci'], change['an']) for change in changes] == [
        ('update_rxsa', PEER_SCI, 0), ('del_rxsa', PEER_SCI, 0), ('add_rxsa', PEER_SCI, 0),
        ('update_txsa', None, 0), ('del_txsa', None, 0), ('add_txsa', None, 0)]
    assert changes[0]['active'] is False and changes[3]['active'] is False
    # The deleted TX SA carries what the registry needs to retire it: its key id and where its PN was.
    assert changes[4]['key_id'] == 'c1' * 16 and changes[4]['pn'] == 1000
    assert 'its key changes' in changes[3]['text']


def test_an_inactive_sa_with_a_changed_key_is_not_deactivated_first():
    spec = spec_of(tx_sas=[{'an': 0, 'key': KEY_A, 'active': False}], rx_scs=[])
    current = kernel_state(spec)
    current['tx_sas'][0]['keyid'] = 'c1' * 16
    assert ops(_secy.plan(spec, current, PARENT)) == ['del_txsa', 'add_txsa']


def test_a_changed_ssci_replaces_the_sa():
    spec = spec_of(cipher='gcm-aes-xpn-128', salt=SALT, tx_sas=[{'an': 0, 'key': KEY_A, 'ssci': 1}], rx_scs=[])
    current = kernel_state(spec)
    current['tx_sas'][0]['ssci'] = 5
    assert ops(_secy.plan(spec, current, PARENT)) == ['update_txsa', 'del_txsa', 'add_txsa']


def test_a_new_generation_goes_beside_the_old_and_the_old_goes_last():
    old = spec_of()
    new = spec_of(tx_sas=[{'an': 1, 'key': KEY_A2}], rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 1, 'key': KEY_B2}]}])
    changes = _secy.plan(new, kernel_state(old), PARENT)
    assert [(change['op'], change.get('sci'), change.get('an')) for change in changes] == [
        ('add_rxsa', PEER_SCI, 1), ('add_txsa', None, 1), ('set_link', None, None),
        ('update_txsa', None, 0), ('del_txsa', None, 0), ('update_rxsa', PEER_SCI, 0), ('del_rxsa', PEER_SCI, 0)]
    assert changes[2]['options'] == {'encoding_sa': 1}
    assert changes[2]['text'] == 'change encoding_sa 0 -> 1'
    assert changes[3]['active'] is False and changes[5]['active'] is False
    assert changes[4]['key_id'] == key_id_of(KEY_A)


def test_activation_alone_is_an_update():
    spec = spec_of(tx_sas=[{'an': 0, 'key': KEY_A}, {'an': 1, 'key': KEY_A2, 'active': False}],
                   rx_scs=[{'sci': PEER_SCI, 'active': False, 'sas': [{'an': 0, 'key': KEY_B}]}])
    current = kernel_state(spec)
    current['tx_sas'][1]['active'] = True
    current['rx_scs'][PEER_SCI]['active'] = True
    changes = _secy.plan(spec, current, PARENT)
    assert [(change['op'], change['active']) for change in changes] == [
        ('update_rxsc', False), ('update_txsa', False)]
    assert changes[1]['text'] == 'deactivate TX SA 1'


@pytest.mark.parametrize('current_change, reason', [
    ({'cipher': 'gcm-aes-256'}, 'cipher gcm-aes-256 -> gcm-aes-128'),
    ({'icv_len': 12}, 'icv_len 12 -> 16'),
    ({'port': 2}, 'port 2 -> 1'),
    ({'parent': 'eth9'}, 'parent eth9 -> eth1'),
])
def test_what_cannot_change_in_place_recreates_the_link_and_says_why(current_change, reason):
    spec = spec_of()
    changes = _secy.plan(spec, kernel_state(spec, **current_change), PARENT)
    assert ops(changes) == ['del_link', 'add_link', 'add_rxsc', 'add_rxsa', 'add_txsa', 'set_mtu', 'add_address',
                            'set_up']
    assert changes[0]['reasons'] == [reason]
    assert changes[0]['text'] == ('recreate the link, because the kernel cannot change %s in place: delete it'
                                  % reason)


def test_an_in_place_change_is_one_set_link_with_only_what_changed():
    spec = spec_of(encrypt=False, validate='check')
    changes = _secy.plan(spec, kernel_state(spec, encrypt=True, validate='strict'), PARENT)
    assert ops(changes) == ['set_link']
    assert changes[0]['options'] == {'encrypt': False, 'validate': 'check'}
    assert changes[0]['text'] == 'change encrypt True -> False, validate strict -> check'


def test_turning_replay_protection_on_sends_the_window_with_it():
    # The kernel refuses REPLAY_PROTECT=1 without a window in the same request. Linux 6.1 does not report the
    # window while replay protection is off, so it differs anyway; a kernel that reports the one it keeps (equal
    # to the wanted one) must still get it.
    spec = spec_of(window=0)
    changes = _secy.plan(spec, kernel_state(spec, replay_protect=False, window=None), PARENT)
    assert [change['options'] for change in changes] == [{'replay_protect': True, 'window': 0}]
    changes = _secy.plan(spec, kernel_state(spec, replay_protect=False, window=0), PARENT)
    assert [change['options'] for change in changes] == [{'replay_protect': True, 'window': 0}]
    assert _secy.changelink_data(changes[0]['options']) == {'IFLA_MACSEC_REPLAY_PROTECT': 1,
                                                            'IFLA_MACSEC_WINDOW': 0}


def test_window_is_ignored_while_replay_protection_is_off():
    spec = spec_of(replay_protect=False)
    assert _secy.plan(spec, kernel_state(spec, window=64), PARENT) == []
    changes = _secy.plan(spec, kernel_state(spec, window=64, replay_protect=True), PARENT)
    assert [change['options'] for change in changes] == [{'replay_protect': False}]


def test_offload_changes_through_its_own_command():
    spec = spec_of(offload='phy')
    changes = _secy.plan(spec, kernel_state(spec, offload='off'), PARENT)
    assert [(change['op'], change.get('offload')) for change in changes] == [('set_offload', 'phy')]


def test_what_is_no_longer_wanted_is_removed_last():
    spec = spec_of()
    current = kernel_state(spec_of(
        tx_sas=[{'an': 0, 'key': KEY_A}, {'an': 2, 'key': KEY_A2, 'active': False}],
        rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}, {'an': 3, 'key': KEY_B2}]},
                {'sci': PEER2_SCI, 'sas': [{'an': 0, 'key': KEY_C}]}]))
    changes = _secy.plan(spec, current, PARENT)
    assert [(change['op'], change['sci'], change.get('an')) for change in changes] == [
        ('del_txsa', None, 2), ('update_rxsa', PEER_SCI, 3), ('del_rxsa', PEER_SCI, 3), ('del_rxsc', PEER2_SCI, None)]
    assert changes[3]['text'] == 'delete RX SC %s and its SAs' % PEER2_SCI


def test_mtu_defaults_to_the_parent_less_the_overhead():
    for icv_len in (16, 8):
        spec = spec_of(icv_len=icv_len)
        assert _secy.desired_mtu(spec, PARENT) == 1500 - (16 + icv_len)
        changes = _secy.plan(spec, kernel_state(spec, mtu=1400), PARENT)
        assert [(change['op'], change['mtu']) for change in changes] == [('set_mtu', 1500 - (16 + icv_len))]


def test_the_parent_mtu_is_raised_when_the_mtu_and_overhead_do_not_fit():
    spec = spec_of(mtu=1500)
    changes = _secy.plan(spec, kernel_state(spec, mtu=1468), PARENT)
    assert [(change['op'], change['mtu']) for change in changes] == [('set_parent_mtu', 1532), ('set_mtu', 1500)]
    assert changes[0]['text'] == 'raise the MTU of the parent eth1 1500 -> 1532 (room for the 32 bytes of MACsec ' \
                                 'overhead)'
    fits = spec_of(mtu=1468)
    assert _secy.plan(fits, kernel_state(fits), PARENT) == []


def test_addresses_none_leaves_them_alone_and_a_list_is_the_whole_set():
    spec = spec_of(addresses=None)
    current = kernel_state(spec, addresses=['10.9.9.9/24'])
    assert _secy.plan(spec, current, PARENT) == []
    spec = spec_of(addresses=['10.0.1.1/24'])
    changes = _secy.plan(spec, current, PARENT)
    assert [(change['op'], change['address']) for change in changes] == [('add_address', '10.0.1.1/24'),
                                                                         ('del_address', '10.9.9.9/24')]
    assert ops(_secy.plan(spec_of(addresses=[]), current, PARENT)) == ['del_address']


@pytest.mark.parametrize('wanted, parent_ipv6, expected', [
    (False, True, [('set_parent_ipv6', False)]),
    (True, False, [('set_parent_ipv6', True)]),
    (False, False, []),
    (False, None, []),  # the host has no IPv6
    (None, True, []),  # not managed
])
def test_parent_ipv6(wanted, parent_ipv6, expected):
    spec = spec_of(parent_ipv6=wanted)
    changes = _secy.plan(spec, kernel_state(spec), dict(PARENT, ipv6=parent_ipv6))
    assert [(change['op'], change['enabled']) for change in changes] == expected


def test_a_down_interface_is_brought_up():
    spec = spec_of()
    assert ops(_secy.plan(spec, kernel_state(spec, up=False), PARENT)) == ['set_up']
    assert ops(_secy.plan(spec, kernel_state(spec), dict(PARENT, up=False))) == ['set_parent_up']


def test_changelink_data_sends_only_the_given_options():
    assert _secy.changelink_data({'encrypt': False, 'validate': 'disabled', 'window': 32, 'encoding_sa': 3,
                                  'include_sci': False, 'end_station': True}) == {
        'IFLA_MACSEC_ENCRYPT': 0, 'IFLA_MACSEC_VALIDATION': 0, 'IFLA_MACSEC_WINDOW': 32,
        'IFLA_MACSEC_ENCODING_SA': 3, 'IFLA_MACSEC_INC_SCI': 0, 'IFLA_MACSEC_ES': 1,
        'IFLA_MACSEC_REPLAY_PROTECT': 1}  # a window comes with replay protection


# ---------------------------------------------------------------------------------------------------------------
# Reading the kernel

@pytest.fixture
def kernel(monkeypatch):
    """A host with the NIC eth1, whose IPv6 state the tests do not read from the real /proc."""
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    fake = FakeKernel()
    fake.add_nic('lo', '00:00:00:00:00:00', mtu=65536)
    fake.add_nic('eth1', MAC)
    return fake


def test_read_parent_and_a_missing_parent(kernel):
    parent = _secy.read_parent(kernel.ipr, 'eth1')
    assert parent == {'index': kernel.index_of('eth1'), 'name': 'eth1', 'mac': MAC, 'mtu': 1500, 'up': True,
                      'ipv6': None}
    with pytest.raises(_secy.SecyError, match='the parent interface eth9 does not exist'):
        _secy.read_parent(kernel.ipr, 'eth9')


def test_read_state_of_nothing_and_of_a_non_macsec_interface(kernel):
    assert _secy.read_state(kernel.ipr, kernel.genl, 'macsec0') is None
    with pytest.raises(_secy.SecyError, match='eth1 exists and is a physical interface, not macsec'):
        _secy.read_state(kernel.ipr, kernel.genl, 'eth1')


def test_proc_parent_ipv6_reads_disable_ipv6(tmp_path):
    (tmp_path / 'eth1').mkdir()
    (tmp_path / 'eth1' / 'disable_ipv6').write_text('1\n', encoding='ascii')
    assert _secy._proc_parent_ipv6('eth1', str(tmp_path)) is False  # pylint: disable=protected-access
    (tmp_path / 'eth1' / 'disable_ipv6').write_text('0\n', encoding='ascii')
    assert _secy._proc_parent_ipv6('eth1', str(tmp_path)) is True  # pylint: disable=protected-access
    assert _secy._proc_parent_ipv6('eth9', str(tmp_path)) is None  # pylint: disable=protected-access


# ---------------------------------------------------------------------------------------------------------------
# converge(): plan + Applier against the fake kernel, with a real registry

MARGIN = 1000


class Clock:
    """The registry's clock: each reading is one timer interval after the last, so rates stay modest."""

    def __init__(self):
        self.now = 1_000_000.0

    def __call__(self):
        self.now += 30
        return self.now


@pytest.fixture
def registry_path(tmp_path):
    return str(tmp_path / 'registry' / 'pn-registry.json')


CLOCK = Clock()


def opened(registry_path):
    return _pn_registry.PnRegistry.open(registry_path, min_margin=MARGIN, clock=CLOCK)


def call_names(kernel):
    return [name for name, args in kernel.modifying_calls()]


def test_converge_on_an_empty_host_creates_in_order(kernel, registry_path):
    spec = spec_of()
    with opened(registry_path) as registry:
        result = _secy.converge(spec, kernel.ipr, kernel.genl, registry)
    assert call_names(kernel) == ['link add', 'add_rxsc', 'add_rxsa', 'add_txsa', 'link set', 'addr add',
                                  'link set']
    calls = kernel.modifying_calls()
    index = kernel.index_of('macsec0')
    assert calls[0][1]['link'] == kernel.index_of('eth1') and calls[0][1]['kind'] == 'macsec'
    assert calls[0][1]['IFLA_MACSEC_PORT'] == 1 and calls[0][1]['IFLA_MACSEC_ENCRYPT'] == 1
    assert calls[3][1] == {'ifindex': index, 'an': 0, 'pn': 1, 'keyid': key_id_of(KEY_A), 'active': True,
                           'ssci': None, 'xpn': False, 'has_key': True, 'has_salt': False}
    assert kernel.keys[(index, None, 0)] == KEY_A and kernel.keys[(index, PEER_SCI, 0)] == KEY_B
    assert calls[4][1] == {'index': index, 'mtu': 1468}
    assert calls[6][1] == {'index': index, 'state': 'up'}
    assert result['changed'] is True and result['start_pns'] == {'0': 1} and result['warnings'] == []
    assert result['changes'][0] == 'add the macsec link macsec0 on eth1 (gcm-aes-128)'
    assert result['secy']['link']['sci'] == SCI and result['secy']['up'] is True
    assert result['secy']['tx_sas'][0]['keyid'] == key_id_of(KEY_A)
    assert result['before'] == {} and result['after']['mtu'] == 1468
    # The registry holds the claim: a later install of the key starts above it.
    entry = _pn_registry.PnRegistry.load(registry_path).entry(SCI, KEY_A)
    assert entry['reserved'] == MARGIN and entry['key_id'] == key_id_of(KEY_A) and entry['ifname'] == 'macsec0'


def test_converge_again_changes_nothing(kernel, registry_path):
    spec = spec_of(rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B}]},
                           {'sci': PEER2_SCI, 'active': False, 'sas': [{'an': 2, 'key': KEY_C, 'active': False}]}],
                   encrypt=False, window=16, validate='check', mtu=1400, addresses=['10.0.1.1/24', 'fd00::1/64'])
    with opened(registry_path) as registry:
        _secy.converge(spec, kernel.ipr, kernel.genl, registry)
        kernel.calls.clear()
        again = _secy.converge(spec, kernel.ipr, kernel.genl, registry)
    assert kernel.modifying_calls() == []
    assert again['changed'] is False and again['changes'] == [] and again['start_pns'] == {}
    assert again['before'] == again['after']


def test_the_tx_sa_starts_above_the_registry_mark(kernel, registry_path):
    with opened(registry_path) as registry:
        registry.claim(SCI, KEY_A)
        seen = registry.observe(SCI, KEY_A, 5_000_000)
    with opened(registry_path) as registry:
        result = _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry)
    start = [args['pn'] for name, args in kernel.modifying_calls() if name == 'add_txsa']
    assert start == [seen['reserved'] + 1] and seen['reserved'] >= 5_000_000
    assert result['start_pns'] == {'0': seen['reserved'] + 1}
    assert result['secy']['tx_sas'][0]['pn'] == seen['reserved'] + 1
    # The new reservation covers at least the margin above the new start.
    assert _pn_registry.PnRegistry.load(registry_path).entry(SCI, KEY_A)['reserved'] >= seen['reserved'] + MARGIN


def test_a_recreated_link_starts_above_where_the_old_one_was(kernel, registry_path):
    with opened(registry_path) as registry:
        _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry)
    kernel.secy_of('macsec0')['tx_sas'][0]['pn'] = 70_000  # the SA sent frames since
    with opened(registry_path) as registry:
        result = _secy.converge(spec_of(icv_len=12), kernel.ipr, kernel.genl, registry)
    assert result['changes'][0].startswith('recreate the link, because the kernel cannot change icv_len 16 -> 12')
    assert int(result['start_pns']['0']) >= 70_000 + MARGIN - 1
    assert kernel.secy_of('macsec0')['secy']['icv_len'] == 12


def test_a_key_rotation_through_the_kernel_keeps_a_sender_and_retires_the_old_key(kernel, registry_path):
    with opened(registry_path) as registry:
        _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry)
    kernel.secy_of('macsec0')['tx_sas'][0]['pn'] = 4242
    kernel.calls.clear()
    new = spec_of(tx_sas=[{'an': 1, 'key': KEY_A2}], rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 1, 'key': KEY_B2}]}])
    with opened(registry_path) as registry:
        result = _secy.converge(new, kernel.ipr, kernel.genl, registry)
    assert call_names(kernel) == ['add_rxsa', 'add_txsa', 'link set', 'update_txsa', 'del_txsa', 'update_rxsa',
                                  'del_rxsa']
    secy = kernel.secy_of('macsec0')
    assert secy['secy']['encoding_sa'] == 1 and [sa['an'] for sa in secy['tx_sas']] == [1]
    assert result['start_pns'] == {'1': 1}
    old = _pn_registry.PnRegistry.load(registry_path).entry(SCI, KEY_A)
    assert old['retired_at'] is not None and old['observed_pn'] == 4242 and old['reserved'] >= 4242 + MARGIN - 1


def test_turning_replay_protection_on_is_accepted_by_the_kernel(kernel):
    _secy.converge(spec_of(replay_protect=False), kernel.ipr, kernel.genl)
    assert _secy.converge(spec_of(replay_protect=False), kernel.ipr, kernel.genl)['changed'] is False
    result = _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    assert result['changes'] == ['change replay_protect False -> True, window None -> 0']
    assert kernel.secy_of('macsec0')['secy']['replay_protect'] is True


def test_check_mode_changes_nothing(kernel, registry_path):
    with opened(registry_path) as registry:
        result = _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry, check_mode=True)
    assert kernel.modifying_calls() == []
    assert not os.path.exists(registry_path)
    assert result['changed'] is True and result['secy'] is None and result['start_pns'] == {}
    assert result['changes'][0] == 'add the macsec link macsec0 on eth1 (gcm-aes-128)'
    # An existing SecY: check mode does not even record where its SAs are.
    _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    kernel.calls.clear()
    kernel.secy_of('macsec0')['tx_sas'][0]['pn'] = 999
    with opened(registry_path) as registry:
        result = _secy.converge(spec_of(encrypt=False), kernel.ipr, kernel.genl, registry, check_mode=True)
    assert kernel.modifying_calls() == [] and not os.path.exists(registry_path)
    assert result['changes'] == ['change encrypt True -> False']
    assert result['secy']['link']['encrypt'] is True


def test_a_kernel_error_on_a_new_link_removes_it_again(kernel, registry_path):
    kernel.failures['add_txsa'] = nl.MacsecError(errno.EINVAL, 'cannot add the TX SA (AN 0): the kernel refused')
    with opened(registry_path) as registry:
        with pytest.raises(_secy.SecyError) as error:
            _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry)
    message = str(error.value)
    assert message.startswith('macsec0: add TX SA 0 (key id %s) failed: cannot add the TX SA (AN 0): the kernel '
                              'refused.' % key_id_of(KEY_A))
    assert message.endswith('The link this run had added was removed again.')
    assert 'Done before it' not in message
    assert call_names(kernel)[-1] == 'link del' and kernel.index_of('macsec0') is None
    assert KEY_A not in message


def test_a_kernel_error_on_an_existing_link_lists_what_was_done(kernel):
    _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    kernel.failures['add_txsa'] = nl.MacsecError(errno.EBUSY, 'cannot add the TX SA (AN 1): busy')
    new = spec_of(tx_sas=[{'an': 1, 'key': KEY_A2}], rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 1, 'key': KEY_B2}]}])
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(new, kernel.ipr, kernel.genl)
    assert 'add TX SA 1 (key id %s) failed: cannot add the TX SA (AN 1): busy.' % key_id_of(KEY_A2) \
        in str(error.value)
    assert str(error.value).endswith('Done before it: add RX SA 1 of SCI %s (key id %s).'
                                     % (PEER_SCI, key_id_of(KEY_B2)))
    assert kernel.index_of('macsec0') is not None  # it existed before: kept


def test_a_failed_recreate_says_the_old_link_is_gone(kernel):
    _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    kernel.failures['add_rxsc'] = nl.MacsecError(errno.ENOMEM, 'cannot add the RX SC: no memory')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(spec_of(icv_len=8), kernel.ipr, kernel.genl)
    message = str(error.value)
    assert 'Done before it: recreate the link, because the kernel cannot change icv_len 16 -> 8 in place' in message
    assert message.endswith('The link this run had added was removed again.')
    assert kernel.index_of('macsec0') is None


def test_a_refused_link_is_explained(kernel):
    kernel.failures['link add'] = nl.NetlinkError(errno.EEXIST, 'File exists')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    message = str(error.value)
    assert message.startswith('macsec0: add the macsec link macsec0 on eth1 (gcm-aes-128) failed: ')
    assert 'exists already' in message and 'removed again' not in message


def test_a_refused_interface_change_names_the_errno(kernel):
    kernel.failures['addr add'] = nl.NetlinkError(errno.EADDRNOTAVAIL, 'Cannot assign requested address')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    expected = 'add the address 10.0.1.1/24 failed: %s (errno %d)' % (os.strerror(errno.EADDRNOTAVAIL),
                                                                      errno.EADDRNOTAVAIL)
    assert expected in str(error.value)


def test_remove_retires_the_keys_and_deletes_the_link(kernel, registry_path):
    with opened(registry_path) as registry:
        _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry)
    kernel.secy_of('macsec0')['tx_sas'][0]['pn'] = 31337
    kernel.calls.clear()
    with opened(registry_path) as registry:
        result = _secy.remove('macsec0', kernel.ipr, kernel.genl, registry)
    assert call_names(kernel) == ['link del'] and kernel.index_of('macsec0') is None
    assert result['changed'] is True and result['changes'] == ['delete the macsec link macsec0']
    assert result['before']['tx_sas'] == {'0': {'key_id': key_id_of(KEY_A), 'active': True}}
    entry = _pn_registry.PnRegistry.load(registry_path).entry(SCI, KEY_A)
    assert entry['retired_at'] is not None and entry['observed_pn'] == 31337
    # A later install of the same key starts above everything the removed link may have sent.
    with opened(registry_path) as registry:
        assert _secy.converge(spec_of(), kernel.ipr, kernel.genl, registry)['start_pns']['0'] > 31337


def test_remove_of_nothing_and_in_check_mode(kernel, registry_path):
    assert _secy.remove('macsec0', kernel.ipr, kernel.genl)['changed'] is False
    _secy.converge(spec_of(), kernel.ipr, kernel.genl)
    kernel.calls.clear()
    with opened(registry_path) as registry:
        result = _secy.remove('macsec0', kernel.ipr, kernel.genl, registry, check_mode=True)
    assert result['changed'] is True and kernel.modifying_calls() == [] and not os.path.exists(registry_path)


def test_offload_is_set_when_the_link_is_added(kernel):
    _secy.converge(spec_of(offload='mac'), kernel.ipr, kernel.genl)
    assert call_names(kernel)[:2] == ['link add', 'set_offload']
    assert kernel.secy_of('macsec0')['offload'] == 'mac'


def test_xpn_sas_carry_ssci_and_salt(kernel, registry_path):
    spec = spec_of(cipher='gcm-aes-xpn-128', salt=SALT, tx_sas=[{'an': 0, 'key': KEY_A, 'ssci': 1}],
                   rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': KEY_B, 'ssci': 2}]}])
    with opened(registry_path) as registry:
        _secy.converge(spec, kernel.ipr, kernel.genl, registry)
        kernel.calls.clear()
        assert _secy.converge(spec, kernel.ipr, kernel.genl, registry)['changed'] is False
    assert _pn_registry.PnRegistry.load(registry_path).entry(SCI, KEY_A)['xpn'] is True
    secy = kernel.secy_of('macsec0')
    assert secy['tx_sas'][0]['ssci'] == 1 and secy['rx_scs'][0]['sas'][0]['ssci'] == 2


def test_the_parent_mtu_is_raised_on_the_host(kernel):
    _secy.converge(spec_of(mtu=1500), kernel.ipr, kernel.genl)
    assert kernel.links[kernel.index_of('eth1')]['mtu'] == 1532
    assert kernel.links[kernel.index_of('macsec0')]['mtu'] == 1500


def test_set_parent_ipv6_writes_the_sysctl(tmp_path):
    (tmp_path / 'eth1').mkdir()
    sysctl = tmp_path / 'eth1' / 'disable_ipv6'
    sysctl.write_text('0\n', encoding='ascii')
    applier = _secy.Applier(None, None, spec_of(), PARENT, None, sysctl_root=str(tmp_path))
    applier.apply({'op': 'set_parent_ipv6', 'enabled': False, 'text': 'disable IPv6'})
    assert sysctl.read_text(encoding='ascii') == '1'


# ---------------------------------------------------------------------------------------------------------------
# No key in what is shown

def test_displays_and_results_hold_no_key(kernel, registry_path):
    spec = spec_of(cipher='gcm-aes-xpn-256', salt=SALT, tx_sas=[{'an': 0, 'key': KEY_256, 'ssci': 1}],
                   rx_scs=[{'sci': PEER_SCI, 'sas': [{'an': 0, 'key': '4e' * 32, 'ssci': 2}]}])
    secrets = (KEY_256, '4e' * 32, SALT)
    with opened(registry_path) as registry:
        result = _secy.converge(spec, kernel.ipr, kernel.genl, registry)
        again = _secy.converge(dict(spec, mtu=1300), kernel.ipr, kernel.genl, registry)
    current = _secy.read_state(kernel.ipr, kernel.genl, 'macsec0')
    removed = _secy.remove('macsec0', kernel.ipr, kernel.genl)
    shown = json.dumps([_secy.display_spec(spec, PARENT), _secy.display_state(current, spec), result, again,
                        _secy.public_state(current), _secy.plan(spec, None, PARENT), removed], default=str)
    assert key_id_of(KEY_256) in shown  # what is shown instead
    for secret in secrets:
        assert secret not in shown.lower()
    with open(registry_path, encoding='utf-8') as handle:
        stored = handle.read()
    for secret in secrets:
        assert secret not in stored


def test_display_state_shows_addresses_only_when_managed():
    spec = spec_of(addresses=None)
    current = kernel_state(spec, addresses=['10.9.9.9/24'])
    assert _secy.display_state(current, spec)['addresses'] is None
    assert _secy.display_state(current)['addresses'] == ['10.9.9.9/24']
    assert _secy.display_state(None) == {}


# ---------------------------------------------------------------------------------------------------------------
# The boot state

def test_boot_state_is_private_idempotent_and_round_trips(tmp_path):
    state_dir = str(tmp_path / 'kernel')
    spec = spec_of(cipher='gcm-aes-xpn-128', salt=SALT, tx_sas=[{'an': 1, 'key': KEY_A, 'ssci': 1, 'pn': 9}],
                   rx_scs=[{'sci': PEER_SCI, 'active': False,
                            'sas': [{'an': 1, 'key': KEY_B, 'ssci': 2, 'key_id': '0f' * 16}]}],
                   mtu=1400, parent_ipv6=True, include_sci=False, end_station=True, window=32, port=3)
    old = os.umask(0)
    try:
        assert _secy.write_boot_state(state_dir, spec) is True
    finally:
        os.umask(old)
    path = _secy.state_file(state_dir, 'macsec0')
    assert stat.S_IMODE(os.stat(state_dir).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(state_dir) == ['macsec0.json']  # no temporary left
    assert _secy.write_boot_state(state_dir, spec) is False
    found = _secy.read_boot_states(state_dir, key_id_of)
    assert found == [(path, spec)]
    changed = dict(spec, mtu=1300)
    assert _secy.write_boot_state(state_dir, changed, check_mode=True) is True
    assert _secy.read_boot_states(state_dir, key_id_of) == [(path, spec)]  # check mode wrote nothing
    assert _secy.write_boot_state(state_dir, changed) is True
    assert _secy.read_boot_states(state_dir, key_id_of)[0][1]['mtu'] == 1300


def test_a_boot_state_without_key_ids_is_completed_by_the_function(tmp_path):
    state_dir = str(tmp_path / 'kernel')
    _secy.write_boot_state(state_dir, spec_of())
    assert _secy.read_boot_states(state_dir, key_id_of)[0][1] == spec_of()


def test_unreadable_boot_states_are_reported_one_by_one(tmp_path):
    state_dir = tmp_path / 'kernel'
    _secy.write_boot_state(str(state_dir), spec_of())
    (state_dir / 'a-list.json').write_text('[1, 2]', encoding='utf-8')
    (state_dir / 'b-version.json').write_text('{"version": 99, "secy": {}}', encoding='utf-8')
    (state_dir / 'c-not-json.json').write_text('{', encoding='utf-8')
    (state_dir / 'd-bad-spec.json').write_text(json.dumps({'version': 1, 'secy': {'name': 'x/y'}}), encoding='utf-8')
    (state_dir / 'e-no-secy.json').write_text('{"version": 1, "secy": [1]}', encoding='utf-8')
    (state_dir / 'notes.txt').write_text('not a state', encoding='utf-8')
    found = _secy.read_boot_states(str(state_dir), key_id_of)
    assert [os.path.basename(path) for path, dummy in found] == [
        'a-list.json', 'b-version.json', 'c-not-json.json', 'd-bad-spec.json', 'e-no-secy.json', 'macsec0.json']
    assert [type(value).__name__ for dummy, value in found] == [
        'ValueError', 'ValueError', 'JSONDecodeError', 'SpecError', 'ValueError', 'dict']
    assert _secy.read_boot_states(str(tmp_path / 'none'), key_id_of) == []


def test_remove_boot_state(tmp_path):
    state_dir = str(tmp_path / 'kernel')
    _secy.write_boot_state(state_dir, spec_of())
    assert _secy.remove_boot_state(state_dir, 'macsec0', check_mode=True) is True
    assert os.path.exists(_secy.state_file(state_dir, 'macsec0'))
    assert _secy.remove_boot_state(state_dir, 'macsec0') is True
    assert _secy.remove_boot_state(state_dir, 'macsec0') is False


# ---------------------------------------------------------------------------------------------------------------
# mka: the link is ours, the SAs and the controlled port are the MKA daemon's

def mka_spec(**overrides):
    return spec_of(mka=True, tx_sas=[], rx_scs=[], **overrides)


@pytest.mark.parametrize('overrides, field', [
    ({'tx_sas': [{'an': 0, 'key': KEY_A}], 'rx_scs': []}, 'tx_sas'),
    ({'tx_sas': [], 'rx_scs': [{'sci': PEER_SCI, 'sas': []}]}, 'rx_scs'),
    ({'tx_sas': [], 'rx_scs': [], 'encoding_sa': 0}, 'encoding_sa'),
    ({'tx_sas': [], 'rx_scs': [], 'cipher': 'gcm-aes-xpn-128', 'salt': SALT}, 'cipher'),
])
def test_mka_refuses_what_the_daemon_owns(overrides, field):
    with pytest.raises(_secy.SpecError) as caught:
        _secy.normalize_spec(params(mka=True, **overrides), key_id_of)
    assert caught.value.field == field


def test_mka_creates_the_link_and_leaves_it_down_for_the_daemon():
    changes = _secy.plan(mka_spec(), None, PARENT)
    assert ops(changes) == ['add_link', 'set_mtu', 'add_address']


def test_mka_ignores_the_daemons_sas_encoding_sa_encrypt_replay_and_state():
    spec = mka_spec()
    daemon_sa = {'an': 2, 'active': True, 'pn': 77, 'keyid': 'ab' * 16, 'stats': {}}
    daemon_sc = {'sci': PEER_SCI, 'active': True, 'stats': {}, 'sas': {2: dict(daemon_sa)}}
    current = kernel_state(spec, up=False, encoding_sa=2, encrypt=False, replay_protect=True, window=5,
                           tx_sas={2: daemon_sa}, rx_scs={PEER_SCI: daemon_sc})
    assert _secy.plan(spec, current, PARENT) == []
    assert _secy.display_state(current, spec) == _secy.display_spec(spec, PARENT)
    assert 'tx_sas' not in _secy.display_spec(spec, PARENT)


def test_mka_still_converges_what_is_ours():
    spec = mka_spec(validate='check', mtu=1400, addresses=['10.0.1.9/24'])
    current = kernel_state(mka_spec(), up=True)
    assert ops(_secy.plan(spec, current, PARENT)) == ['set_link', 'set_mtu', 'add_address', 'del_address']
    assert ops(_secy.plan(mka_spec(port=2), current, PARENT))[:2] == ['del_link', 'add_link']


def test_mka_round_trips_through_the_boot_state():
    spec = mka_spec()
    params_back = _secy.spec_to_params(spec)
    assert params_back['mka'] is True and 'encoding_sa' not in params_back
    assert _secy.normalize_spec(params_back, key_id_of) == spec


def test_mka_records_no_pn(registry_path):
    spec = mka_spec()
    current = kernel_state(spec, tx_sas={0: {'an': 0, 'active': True, 'pn': 5, 'keyid': 'cd' * 16, 'stats': {}}})
    with opened(registry_path) as registry:
        assert _secy.record_tx_pns(registry, current, spec) == []


# ---------------------------------------------------------------------------------------------------------------
# The record of the parent's first state (_parents): written before the collection first changes the parent

@pytest.fixture
def parent_host(kernel, monkeypatch):
    """eth1 down, MTU 1500, IPv6 on; the parents' IPv6 sysctl kept in a dict instead of /proc."""
    ipv6 = {'eth1': True}

    def write_sysctl(path, value):
        assert path.endswith('/disable_ipv6')
        ipv6[path.split('/')[-2]] = value == '0'

    monkeypatch.setattr(_secy, '_proc_parent_ipv6', ipv6.get)
    monkeypatch.setattr(_secy, '_write_sysctl', write_sysctl)
    kernel.links[kernel.index_of('eth1')]['up'] = False
    return ipv6


@pytest.fixture
def parents_file(tmp_path):
    return str(tmp_path / 'lib' / 'parents.json')


def parents_record(path):
    with open(path, encoding='utf-8') as handle:
        data = json.load(handle)
    assert data['version'] == 1
    return data['parents']


def test_converge_records_the_parents_settings_before_changing_them(kernel, parent_host, parents_file):
    result = _secy.converge(spec_of(mtu=1500, parent_ipv6=False), kernel.ipr, kernel.genl,
                            parents_file=parents_file)
    assert 'raise the MTU of the parent eth1 1500 -> 1532 (room for the 32 bytes of MACsec overhead)' \
        in result['changes']
    eth1 = kernel.links[kernel.index_of('eth1')]
    assert (eth1['mtu'], eth1['up'], parent_host['eth1']) == (1532, True, False)
    # What it was, not what it is now.
    assert parents_record(parents_file) == {'eth1': {'mtu': 1500, 'ipv6': True, 'up': False}}


def test_a_later_converge_keeps_the_first_record(kernel, parent_host, parents_file):
    _secy.converge(spec_of(mtu=1500, parent_ipv6=False), kernel.ipr, kernel.genl, parents_file=parents_file)
    kernel.links[kernel.index_of('eth1')]['up'] = False  # someone took it down since
    result = _secy.converge(spec_of(mtu=1600, parent_ipv6=True), kernel.ipr, kernel.genl,
                            parents_file=parents_file)
    assert [change for change in result['changes'] if 'parent' in change] == [
        'raise the MTU of the parent eth1 1532 -> 1632 (room for the 32 bytes of MACsec overhead)',
        'enable IPv6 on the parent eth1', 'bring the parent eth1 up']
    eth1 = kernel.links[kernel.index_of('eth1')]
    assert (eth1['mtu'], eth1['up'], parent_host['eth1']) == (1632, True, True)
    assert parents_record(parents_file) == {'eth1': {'mtu': 1500, 'ipv6': True, 'up': False}}


def test_only_the_settings_that_change_are_recorded(kernel, parent_host, parents_file):
    kernel.links[kernel.index_of('eth1')]['up'] = True
    _secy.converge(spec_of(mtu=1500), kernel.ipr, kernel.genl, parents_file=parents_file)
    assert parents_record(parents_file) == {'eth1': {'mtu': 1500}}


def test_a_parent_that_needs_no_change_gets_no_record(kernel, parent_host, parents_file):
    kernel.links[kernel.index_of('eth1')]['up'] = True
    result = _secy.converge(spec_of(), kernel.ipr, kernel.genl, parents_file=parents_file)
    assert result['changed'] is True
    assert not os.path.exists(parents_file)


def test_the_record_is_written_before_the_parent_is_changed(kernel, parent_host, parents_file):
    # The parent's MTU change is the first `link set`: refused, yet its first value was recorded before it.
    kernel.failures['link set'] = nl.NetlinkError(errno.EPERM, 'Operation not permitted')
    with pytest.raises(_secy.SecyError, match='raise the MTU of the parent eth1 1500 -> 1532'):
        _secy.converge(spec_of(mtu=1500, parent_ipv6=False), kernel.ipr, kernel.genl, parents_file=parents_file)
    assert parents_record(parents_file) == {'eth1': {'mtu': 1500}}


def test_check_mode_writes_no_parent_record(kernel, parent_host, parents_file):
    result = _secy.converge(spec_of(mtu=1500, parent_ipv6=False), kernel.ipr, kernel.genl, check_mode=True,
                            parents_file=parents_file)
    assert 'bring the parent eth1 up' in result['changes']
    assert kernel.modifying_calls() == []
    assert not os.path.exists(parents_file) and not os.path.exists(os.path.dirname(parents_file))


def test_without_a_parents_file_nothing_is_recorded(kernel, parent_host, monkeypatch):
    def remember(*args, **kwargs):
        raise AssertionError('remember(%r, %r) without a parents file' % (args, kwargs))

    monkeypatch.setattr(_secy._parents, 'remember', remember)  # pylint: disable=protected-access
    _secy.converge(spec_of(mtu=1500, parent_ipv6=False), kernel.ipr, kernel.genl)
    assert kernel.links[kernel.index_of('eth1')]['mtu'] == 1532


def test_a_secy_on_a_tunnel_records_nothing(monkeypatch, parents_file):
    # pylint: disable=import-outside-toplevel  # test_secy_tunnel imports this module
    from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.test_secy_tunnel import (
        TunnelKernel, tunnel_spec_of)

    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    kernel = TunnelKernel()
    kernel.add_nic('eth0', MAC)
    # A new tunnel (made down, brought up), then the same tunnel found down again: both bring it up.
    result = _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl, parents_file=parents_file)
    assert 'bring the parent gt1 up' in result['changes']
    kernel.links[kernel.index_of('gt1')]['up'] = False
    result = _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl, parents_file=parents_file)
    assert result['changes'] == ['bring the parent gt1 up']
    assert not os.path.exists(parents_file)
