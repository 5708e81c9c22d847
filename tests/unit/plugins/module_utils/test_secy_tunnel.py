# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The GRETAP tunnel under a SecY (plugins/module_utils/_secy.py, macsec_over_ipsec): the `tunnel` option is checked
field by field, plan_tunnel() adds, recreates or resizes the tunnel and refuses to take over another interface,
converge() makes the tunnel then the SecY on it in one call and takes back a tunnel it made when the SecY fails,
remove() deletes the SecY then its tunnel and never a NIC, and the boot state keeps the tunnel."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils import fake_kernel
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.fake_kernel import FakeIpr, FakeKernel, Msg
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils.test_secy import (
    KEY_A, MARGIN, PEER_SCI, key_id_of, opened, params)

TUNNEL_MAC = '02:3a:7b:00:00:01'
TUNNEL_SCI = '023a7b0000010001'
TUNNEL = {'local': '192.0.2.1', 'remote': '192.0.2.2', 'address': TUNNEL_MAC, 'mtu': 1425}
TUNNEL6 = {'local': '2001:db8::1', 'remote': '2001:db8::2', 'address': TUNNEL_MAC, 'mtu': 1397}
NIC_MAC = '52:54:00:12:34:56'


def tunnel_params(tunnel=None, **overrides):
    """A point-to-point SecY on the tunnel gt1 (the end's interface names the tunnel the collection makes)."""
    return params(parent='gt1', tunnel=dict(TUNNEL if tunnel is None else tunnel), **overrides)


def tunnel_spec_of(tunnel=None, **overrides):
    return _secy.normalize_spec(tunnel_params(tunnel, **overrides), key_id_of)


def ops(changes):
    return [change['op'] for change in changes]


# ---------------------------------------------------------------------------------------------------------------
# normalize_spec: the tunnel option

def test_a_tunnel_is_normalized_with_its_kind_from_the_address_family():
    spec = tunnel_spec_of(dict(TUNNEL, address=TUNNEL_MAC.upper()))
    assert spec['tunnel'] == {'kind': 'gretap', 'local': '192.0.2.1', 'remote': '192.0.2.2', 'address': TUNNEL_MAC,
                              'mtu': 1425}
    spec6 = tunnel_spec_of({'local': '2001:DB8:0::1', 'remote': '2001:db8::2', 'address': TUNNEL_MAC})
    assert spec6['tunnel'] == {'kind': 'ip6gretap', 'local': '2001:db8::1', 'remote': '2001:db8::2',
                               'address': TUNNEL_MAC, 'mtu': None}


def test_a_spec_without_a_tunnel_has_none():
    assert _secy.normalize_spec(params(), key_id_of)['tunnel'] is None


BAD_TUNNELS = [
    ('not a dict', '192.0.2.1', 'tunnel'),
    ('local not an address', dict(TUNNEL, local='gt1'), 'tunnel.local'),
    ('local with a prefix', dict(TUNNEL, local='192.0.2.1/24'), 'tunnel.local'),
    ('local missing', {'remote': '192.0.2.2', 'address': TUNNEL_MAC}, 'tunnel.local'),
    ('remote not an address', dict(TUNNEL, remote='192.0.2.300'), 'tunnel.remote'),
    ('mixed families', dict(TUNNEL, remote='2001:db8::2'), 'tunnel.remote'),
    ('local is remote', dict(TUNNEL, remote='192.0.2.1'), 'tunnel.remote'),
    ('local is remote, written apart', dict(TUNNEL6, local='2001:db8:0::2'), 'tunnel.remote'),
    ('multicast mac', dict(TUNNEL, address='03:00:5e:00:00:01'), 'tunnel.address'),
    ('broadcast mac', dict(TUNNEL, address='ff:ff:ff:ff:ff:ff'), 'tunnel.address'),
    ('mac with dashes', dict(TUNNEL, address='02-3a-7b-00-00-01'), 'tunnel.address'),
    ('mac too short', dict(TUNNEL, address='02:3a:7b:00:00'), 'tunnel.address'),
    ('mac missing', {'local': '192.0.2.1', 'remote': '192.0.2.2'}, 'tunnel.address'),
    ('mtu below the IPv4 minimum', dict(TUNNEL, mtu=67), 'tunnel.mtu'),
    ('mtu below the IPv6 minimum', dict(TUNNEL6, mtu=1279), 'tunnel.mtu'),
    ('mtu above 65535', dict(TUNNEL, mtu=65536), 'tunnel.mtu'),
    ('mtu not a number', dict(TUNNEL, mtu='1425'), 'tunnel.mtu'),
    ('mtu a boolean', dict(TUNNEL, mtu=True), 'tunnel.mtu'),
]


@pytest.mark.parametrize('tunnel, field', [case[1:] for case in BAD_TUNNELS], ids=[case[0] for case in BAD_TUNNELS])
def test_each_tunnel_error_names_its_field(tunnel, field):
    with pytest.raises(_secy.SpecError) as error:
        _secy.normalize_spec(params(parent='gt1', tunnel=tunnel), key_id_of)
    assert error.value.field == field
    assert str(error.value).startswith(field + ': ')


def test_the_messages_say_what_is_wrong():
    with pytest.raises(_secy.SpecError, match='is IPv6 but tunnel.local is IPv4'):
        tunnel_spec_of(dict(TUNNEL, remote='2001:db8::2'))
    with pytest.raises(_secy.SpecError, match='is the local address'):
        tunnel_spec_of(dict(TUNNEL, remote='192.0.2.1'))
    with pytest.raises(_secy.SpecError, match='must be a unicast MAC address'):
        tunnel_spec_of(dict(TUNNEL, address='01:80:c2:00:00:03'))
    with pytest.raises(_secy.SpecError, match='from 1280 to 65535'):
        tunnel_spec_of(dict(TUNNEL6, mtu=1279))


@pytest.mark.parametrize('tunnel', [dict(TUNNEL, mtu=68), dict(TUNNEL6, mtu=1280), dict(TUNNEL, mtu=65535)],
                         ids=['ipv4-minimum', 'ipv6-minimum', 'maximum'])
def test_tunnel_mtus_at_their_limits_are_accepted(tunnel):
    assert tunnel_spec_of(tunnel)['tunnel']['mtu'] == tunnel['mtu']


# ---------------------------------------------------------------------------------------------------------------
# plan_tunnel: pure

def have_tunnel(spec, **changes):
    """What read_tunnel() returns for the tunnel exactly as `spec` asks (then `changes` applied)."""
    tunnel = spec['tunnel']
    have = {'index': 5, 'kind': tunnel['kind'], 'local': tunnel['local'], 'remote': tunnel['remote'],
            'address': tunnel['address'], 'mtu': tunnel['mtu'], 'up': True}
    have.update(changes)
    return have


def test_a_missing_tunnel_is_added():
    spec = tunnel_spec_of()
    changes = _secy.plan_tunnel(spec, None)
    assert ops(changes) == ['add_tunnel']
    assert changes[0]['text'] == 'add the gretap tunnel gt1 from 192.0.2.1 to 192.0.2.2'


def test_no_tunnel_wanted_plans_nothing_whatever_the_host_has():
    spec = _secy.normalize_spec(params(), key_id_of)
    assert _secy.plan_tunnel(spec, None) == []
    assert _secy.plan_tunnel(spec, {'index': 2, 'kind': None, 'local': None, 'remote': None, 'address': NIC_MAC,
                                    'mtu': 1500, 'up': True}) == []


def test_the_tunnel_as_wanted_plans_nothing():
    spec = tunnel_spec_of()
    assert _secy.plan_tunnel(spec, have_tunnel(spec)) == []
    # No mtu asked for: whatever the tunnel has is kept.
    spec = tunnel_spec_of(dict(TUNNEL, mtu=None))
    assert _secy.plan_tunnel(spec, have_tunnel(spec, mtu=1462)) == []


@pytest.mark.parametrize('key, value', [('local', '192.0.2.9'), ('remote', '192.0.2.9'),
                                        ('address', '02:3a:7b:00:00:99')])
def test_a_tunnel_whose_ends_or_mac_differ_is_deleted_then_added_and_the_change_says_why(key, value):
    spec = tunnel_spec_of()
    changes = _secy.plan_tunnel(spec, have_tunnel(spec, **{key: value}))
    assert ops(changes) == ['del_tunnel', 'add_tunnel']
    assert changes[0]['index'] == 5
    assert '%s %s -> %s' % (key, value, spec['tunnel'][key]) in changes[0]['text']
    assert changes[0]['text'].startswith('recreate the tunnel gt1, because the kernel cannot change ')
    assert '(the SecY on it goes too)' in changes[0]['text']


def test_every_difference_is_named_in_one_recreate():
    spec = tunnel_spec_of()
    changes = _secy.plan_tunnel(spec, have_tunnel(spec, local='192.0.2.8', address='02:3a:7b:00:00:99', mtu=1400))
    assert ops(changes) == ['del_tunnel', 'add_tunnel']  # the new tunnel gets the MTU: no set_tunnel_mtu
    assert 'local 192.0.2.8 -> 192.0.2.1, address 02:3a:7b:00:00:99 -> %s' % TUNNEL_MAC in changes[0]['text']
    assert 'remote' not in changes[0]['text']


def test_only_a_different_mtu_is_changed_in_place():
    spec = tunnel_spec_of()
    changes = _secy.plan_tunnel(spec, have_tunnel(spec, mtu=1462))
    assert ops(changes) == ['set_tunnel_mtu']
    assert changes[0]['mtu'] == 1425
    assert changes[0]['text'] == 'set the MTU of the tunnel gt1 1462 -> 1425'


@pytest.mark.parametrize('kind, shown', [(None, 'a NIC'), ('macsec', 'macsec'), ('gre', 'gre')])
def test_an_interface_of_another_kind_with_the_tunnels_name_is_refused(kind, shown):
    spec = tunnel_spec_of()
    with pytest.raises(_secy.SecyError) as error:
        _secy.plan_tunnel(spec, have_tunnel(spec, kind=kind))
    assert str(error.value).startswith('gt1 exists and is not a GRETAP tunnel (it is %s)' % shown)


def test_a_tunnel_of_the_other_family_is_made_again():
    spec = tunnel_spec_of()
    changes = _secy.plan_tunnel(spec, have_tunnel(spec, kind='ip6gretap'))
    assert ops(changes) == ['del_tunnel', 'add_tunnel']
    assert 'kind ip6gretap -> gretap' in changes[0]['text']


def test_planned_parent_is_the_tunnel_as_it_will_be():
    spec = tunnel_spec_of()
    assert _secy.planned_parent(spec) == {'index': None, 'name': 'gt1', 'mac': TUNNEL_MAC, 'up': False, 'ipv6': None,
                                          'mtu': 1425}
    # Without an MTU: the kernel's default for the kind.
    spec = tunnel_spec_of(dict(TUNNEL, mtu=None))
    assert _secy.planned_parent(spec)['mtu'] == _secy.DEFAULT_GRETAP_MTU['gretap']


def test_display_tunnel_shows_what_the_spec_manages():
    spec = tunnel_spec_of()
    assert _secy.display_tunnel(have_tunnel(spec)) == {'kind': 'gretap', 'local': '192.0.2.1', 'remote': '192.0.2.2',
                                                       'address': TUNNEL_MAC, 'mtu': 1425}
    assert _secy.display_tunnel(None) is None


# ---------------------------------------------------------------------------------------------------------------
# The fake kernel, with GRETAP tunnels

class TunnelIpr(FakeIpr):
    """FakeIpr that also makes gretap/ip6gretap links (taking and reporting their IFLA_INFO_DATA as pyroute2 does)
    and, as Linux does, deletes the macsec links on a link it deletes."""

    def _add(self, args):
        kernel = self.kernel
        if args['kind'] not in ('gretap', 'ip6gretap'):
            refusal = kernel.refused_kinds.get(args['kind'])
            if refusal is not None:
                raise refusal
            super()._add(args)
            return
        if kernel.index_of(args['ifname']) is not None:
            raise nl.NetlinkError(errno.EEXIST, 'File exists')
        # pyroute2 (0.9) takes a kind's IFLA_INFO_DATA keywords from its nla map: gre_local/gre_remote for gretap
        # (IFLA_GRE_*), ip6gre_local/ip6gre_remote for ip6gretap (IFLA_IP6GRE_*); it leaves others out of the
        # request, and decodes a dump with the same names.
        prefix = 'ip6gre_' if args['kind'] == 'ip6gretap' else 'gre_'
        gre = {'IFLA_%sLOCAL' % prefix.upper(): args.get(prefix + 'local'),
               'IFLA_%sREMOTE' % prefix.upper(): args.get(prefix + 'remote')}
        index = kernel.new_index()
        kernel.links[index] = {'name': args['ifname'], 'kind': args['kind'], 'mac': args['address'],
                               'mtu': args.get('mtu', _secy.DEFAULT_GRETAP_MTU[args['kind']]), 'up': False,
                               'parent': None, 'addresses': [],
                               'gre': {name: value for name, value in gre.items() if value is not None}}

    def _message(self, index):
        message = super()._message(index)
        link = self.kernel.links[index]
        if 'gre' in link:
            message.attrs['IFLA_LINKINFO'] = Msg({}, {'IFLA_INFO_KIND': link['kind'],
                                                      'IFLA_INFO_DATA': Msg({}, dict(link['gre']))})
        return message

    def link(self, action, **args):
        children = []
        if action == 'del':
            children = [index for index, link in self.kernel.links.items() if link['parent'] == args['index']]
        super().link(action, **args)
        for index in children:
            self.kernel.links.pop(index)
            self.kernel.secys.pop(index, None)


class TunnelKernel(FakeKernel):
    """FakeKernel whose IPRoute is a TunnelIpr; `refused_kinds` makes `link add` of one kind fail."""

    def __init__(self):
        super().__init__()
        self.ipr = TunnelIpr(self)
        self.refused_kinds = {}  # link kind -> the exception `link add` of that kind raises

    def add_tunnel(self, name, tunnel, kind='gretap', mtu=None):
        """A tunnel that exists before the run (made by an earlier run, or by someone else)."""
        prefix = 'ip6gre_' if kind == 'ip6gretap' else 'gre_'
        self.ipr.link('add', ifname=name, kind=kind, address=tunnel['address'], mtu=mtu or tunnel['mtu'],
                      **{prefix + 'local': tunnel['local'], prefix + 'remote': tunnel['remote']})
        self.calls.clear()
        return self.index_of(name)


@pytest.fixture
def kernel(monkeypatch):
    """A host with the NIC eth0 (its underlay) and no tunnel yet."""
    monkeypatch.setattr(_secy, '_proc_parent_ipv6', lambda parent: None)
    fake = TunnelKernel()
    fake.add_nic('lo', '00:00:00:00:00:00', mtu=65536)
    fake.add_nic('eth0', NIC_MAC)
    return fake


def call_names(kernel):
    return [name for name, args in kernel.modifying_calls()]


def test_read_tunnel_reads_kind_ends_mac_and_mtu(kernel):
    index = kernel.add_tunnel('gt1', dict(TUNNEL, address=TUNNEL_MAC.upper()))
    assert _secy.read_tunnel(kernel.ipr, 'gt1') == {'index': index, 'kind': 'gretap', 'local': '192.0.2.1',
                                                    'remote': '192.0.2.2', 'address': TUNNEL_MAC, 'mtu': 1425,
                                                    'up': False}
    assert _secy.read_tunnel(kernel.ipr, 'gt9') is None
    nic = _secy.read_tunnel(kernel.ipr, 'eth0')
    assert (nic['kind'], nic['local'], nic['remote'], nic['address']) == (None, None, None, NIC_MAC)


# ---------------------------------------------------------------------------------------------------------------
# converge(): the tunnel, then the SecY on it

def test_converge_on_an_empty_host_makes_the_tunnel_then_the_secy_on_it(kernel):
    result = _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    calls = kernel.modifying_calls()
    assert calls[0] == ('link add', {'ifname': 'gt1', 'kind': 'gretap', 'address': TUNNEL_MAC,
                                     'gre_local': '192.0.2.1', 'gre_remote': '192.0.2.2', 'mtu': 1425})
    tunnel = kernel.index_of('gt1')
    assert calls[1][0] == 'link add' and calls[1][1]['kind'] == 'macsec' and calls[1][1]['link'] == tunnel
    # A new tunnel is down: the run brings it up.
    assert ('link set', {'index': tunnel, 'state': 'up'}) in calls
    assert kernel.links[tunnel]['up'] is True
    secy = kernel.secy_of('macsec0')
    assert secy['secy']['sci'] == TUNNEL_SCI  # the SCI comes from the tunnel's fixed MAC
    assert kernel.links[kernel.index_of('macsec0')]['mtu'] == 1425 - 32
    assert result['changed'] is True and result['link_added'] is True
    assert result['changes'][0] == 'add the gretap tunnel gt1 from 192.0.2.1 to 192.0.2.2'
    assert 'add the macsec link macsec0 on gt1 (gcm-aes-128)' in result['changes']
    assert 'bring the parent gt1 up' in result['changes']
    assert result['before'] == {'tunnel': None}
    assert result['after']['tunnel'] == {'kind': 'gretap', 'local': '192.0.2.1', 'remote': '192.0.2.2',
                                         'address': TUNNEL_MAC, 'mtu': 1425}
    assert result['after']['mtu'] == 1393
    assert result['secy']['parent'] == 'gt1' and result['secy']['link']['sci'] == TUNNEL_SCI
    assert kernel.index_of('eth0') is not None


def test_converge_again_changes_nothing(kernel):
    spec = tunnel_spec_of()
    _secy.converge(spec, kernel.ipr, kernel.genl)
    kernel.calls.clear()
    again = _secy.converge(spec, kernel.ipr, kernel.genl)
    assert kernel.modifying_calls() == []
    assert again['changed'] is False and again['changes'] == [] and again['link_added'] is False
    assert again['before'] == again['after']


def test_check_mode_plans_the_tunnel_and_the_secy_and_changes_nothing(kernel):
    result = _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl, check_mode=True)
    assert kernel.modifying_calls() == []
    assert kernel.index_of('gt1') is None and kernel.index_of('macsec0') is None
    assert result['changed'] is True and result['secy'] is None
    assert result['changes'][:2] == ['add the gretap tunnel gt1 from 192.0.2.1 to 192.0.2.2',
                                     'add the macsec link macsec0 on gt1 (gcm-aes-128)']
    assert 'bring the parent gt1 up' in result['changes'] and 'set the MTU to 1393' in result['changes']
    # What check mode says is what a real run then does.
    real = _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    assert real['changes'] == result['changes']


def test_check_mode_of_a_tunnel_to_recreate_changes_nothing(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    kernel.calls.clear()
    result = _secy.converge(tunnel_spec_of(dict(TUNNEL, remote='192.0.2.3')), kernel.ipr, kernel.genl,
                            check_mode=True)
    assert kernel.modifying_calls() == []
    assert result['changes'][0].startswith('recreate the tunnel gt1, because the kernel cannot change remote '
                                           '192.0.2.2 -> 192.0.2.3')
    assert result['changes'][1] == 'add the gretap tunnel gt1 from 192.0.2.1 to 192.0.2.3'
    # The SecY goes with the old tunnel: it is planned anew.
    assert 'add the macsec link macsec0 on gt1 (gcm-aes-128)' in result['changes']
    assert result['before']['tunnel']['remote'] == '192.0.2.2' and result['after']['tunnel']['remote'] == '192.0.2.3'
    assert kernel.secy_of('macsec0') is not None


def test_a_moved_tunnel_end_recreates_the_tunnel_and_the_secy(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    old = kernel.index_of('gt1')
    kernel.calls.clear()
    result = _secy.converge(tunnel_spec_of(dict(TUNNEL, remote='192.0.2.3')), kernel.ipr, kernel.genl)
    assert call_names(kernel)[:3] == ['link del', 'link add', 'link add']
    assert kernel.modifying_calls()[0][1] == {'index': old}
    assert _secy.read_tunnel(kernel.ipr, 'gt1')['remote'] == '192.0.2.3'
    assert kernel.links[kernel.index_of('macsec0')]['parent'] == kernel.index_of('gt1') != old
    assert result['link_added'] is True
    assert result['changes'][0].startswith('recreate the tunnel gt1')
    assert kernel.secy_of('macsec0')['tx_sas'][0]['keyid'] == key_id_of(KEY_A)


def test_a_new_tunnel_mac_gives_the_secy_a_new_sci(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    result = _secy.converge(tunnel_spec_of(dict(TUNNEL, address='02:3a:7b:00:00:02')), kernel.ipr, kernel.genl)
    assert kernel.secy_of('macsec0')['secy']['sci'] == '023a7b0000020001'
    assert result['secy']['link']['sci'] == '023a7b0000020001'


def test_only_a_new_tunnel_mtu_is_set_in_place_and_the_secy_follows(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    tunnel, secy = kernel.index_of('gt1'), kernel.index_of('macsec0')
    kernel.calls.clear()
    planned = _secy.converge(tunnel_spec_of(dict(TUNNEL, mtu=1500)), kernel.ipr, kernel.genl, check_mode=True)
    result = _secy.converge(tunnel_spec_of(dict(TUNNEL, mtu=1500)), kernel.ipr, kernel.genl)
    assert planned['changes'] == result['changes'] and planned['after']['mtu'] == 1468
    assert kernel.modifying_calls() == [('link set', {'index': tunnel, 'mtu': 1500}),
                                        ('link set', {'index': secy, 'mtu': 1468})]
    assert result['changes'] == ['set the MTU of the tunnel gt1 1425 -> 1500', 'set the MTU 1393 -> 1468']
    assert result['link_added'] is False
    assert kernel.index_of('gt1') == tunnel and kernel.index_of('macsec0') == secy


def test_a_secy_moved_from_a_nic_onto_a_new_tunnel_is_recreated_and_the_changes_say_so(kernel):
    _secy.converge(_secy.normalize_spec(params(parent='eth0'), key_id_of), kernel.ipr, kernel.genl)
    result = _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    assert result['changes'][:3] == [
        'add the gretap tunnel gt1 from 192.0.2.1 to 192.0.2.2',
        'recreate the link, because the kernel cannot change parent eth0 -> gt1 in place: delete it',
        'add the macsec link macsec0 on gt1 (gcm-aes-128)']
    assert kernel.links[kernel.index_of('macsec0')]['parent'] == kernel.index_of('gt1')
    assert kernel.secy_of('macsec0')['secy']['sci'] == TUNNEL_SCI and kernel.index_of('eth0') is not None


def test_an_interface_that_is_not_a_tunnel_is_never_taken_over(kernel):
    kernel.add_nic('gt1', '52:54:00:12:34:99')
    with pytest.raises(_secy.SecyError, match='gt1 exists and is not a GRETAP tunnel'):
        _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    assert kernel.modifying_calls() == []


def test_a_failure_while_adding_the_secy_deletes_the_tunnel_it_had_just_made(kernel):
    kernel.failures['add_rxsc'] = nl.MacsecError(errno.ENOMEM, 'cannot add the RX SC: no memory')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    message = str(error.value)
    assert message.startswith('macsec0: add RX SC %s failed: cannot add the RX SC: no memory.' % PEER_SCI)
    assert message.endswith('The link and the tunnel this run had added were removed again.')
    assert 'Done before it' not in message  # what it had done went with the tunnel
    assert kernel.index_of('gt1') is None and kernel.index_of('macsec0') is None
    assert kernel.index_of('eth0') is not None and kernel.index_of('lo') is not None
    assert kernel.modifying_calls()[-1][0] == 'link del'


def test_a_refused_secy_on_a_new_tunnel_deletes_the_tunnel(kernel):
    kernel.refused_kinds['macsec'] = nl.NetlinkError(errno.EOPNOTSUPP, 'Operation not supported')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    message = str(error.value)
    assert message.startswith('macsec0: add the macsec link macsec0 on gt1 (gcm-aes-128) failed: ')
    assert message.endswith('The tunnel this run had added was removed again.')
    assert kernel.index_of('gt1') is None


def test_a_failure_on_a_tunnel_that_existed_keeps_it(kernel):
    kernel.add_tunnel('gt1', TUNNEL)
    kernel.failures['add_rxsc'] = nl.MacsecError(errno.ENOMEM, 'cannot add the RX SC: no memory')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    assert str(error.value).endswith('The link this run had added was removed again.')
    assert kernel.index_of('gt1') is not None and kernel.index_of('macsec0') is None


def test_a_refused_tunnel_is_explained_and_nothing_is_left(kernel):
    kernel.failures['link add'] = nl.NetlinkError(errno.EEXIST, 'File exists')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    message = str(error.value)
    assert message.startswith('macsec0: add the gretap tunnel gt1 from 192.0.2.1 to 192.0.2.2 failed: ')
    assert 'removed again' not in message and 'Done before it' not in message
    assert kernel.index_of('gt1') is None


def test_a_failed_recreate_says_the_old_tunnel_is_gone(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    kernel.failures['add_rxsc'] = nl.MacsecError(errno.ENOMEM, 'cannot add the RX SC: no memory')
    with pytest.raises(_secy.SecyError) as error:
        _secy.converge(tunnel_spec_of(dict(TUNNEL, remote='192.0.2.3')), kernel.ipr, kernel.genl)
    message = str(error.value)
    assert 'Done before it: recreate the tunnel gt1, because the kernel cannot change remote 192.0.2.2 -> ' \
           '192.0.2.3 in place' in message
    assert message.endswith('The link and the tunnel this run had added were removed again.')
    assert kernel.index_of('gt1') is None and kernel.index_of('macsec0') is None


def test_the_registry_keeps_the_pns_of_a_secy_that_goes_with_its_tunnel(kernel, tmp_path):
    path = str(tmp_path / 'pn-registry.json')
    with opened(path) as registry:
        _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl, registry)
    kernel.secy_of('macsec0')['tx_sas'][0]['pn'] = 70_000  # the SA sent frames since
    with opened(path) as registry:
        result = _secy.converge(tunnel_spec_of(dict(TUNNEL, remote='192.0.2.3')), kernel.ipr, kernel.genl,
                                registry)
    # Same MAC, same SCI, same key: the new SA starts above what the old one may have sent.
    assert int(result['start_pns']['0']) >= 70_000 + MARGIN - 1
    assert _pn_registry.PnRegistry.load(path).entry(TUNNEL_SCI, KEY_A)['observed_pn'] >= 70_000


def test_an_ipv6_underlay_makes_an_ip6gretap_tunnel(kernel):
    _secy.converge(tunnel_spec_of(TUNNEL6), kernel.ipr, kernel.genl)
    name, args = kernel.modifying_calls()[0]
    assert name == 'link add' and args['kind'] == 'ip6gretap' and args['mtu'] == 1397
    assert kernel.secy_of('macsec0')['secy']['sci'] == TUNNEL_SCI


def test_an_ip6gretap_tunnel_gets_its_ends_and_converges_again_without_change(kernel):
    _secy.converge(tunnel_spec_of(TUNNEL6), kernel.ipr, kernel.genl)
    have = _secy.read_tunnel(kernel.ipr, 'gt1')
    assert (have['local'], have['remote']) == ('2001:db8::1', '2001:db8::2')
    kernel.calls.clear()
    assert _secy.converge(tunnel_spec_of(TUNNEL6), kernel.ipr, kernel.genl)['changed'] is False
    assert kernel.modifying_calls() == []


def through_pyroute2(kwarg):
    """The link message of ipr.link('add', **kwarg) as pyroute2 encodes and decodes it, as link 9."""
    pytest.importorskip('pyroute2')
    back = fake_kernel.through_pyroute2(kwarg)
    back['index'] = 9
    return back


class OneLinkIpr:
    """An IPRoute that holds one link message (as pyroute2 decoded it)."""

    def __init__(self, message):
        self.message = message

    def link_lookup(self, ifname):
        return [9] if ifname == self.message.get_attr('IFLA_IFNAME') else []

    def get_links(self, index):
        assert index == 9
        return [self.message]


def tunnel_request_of(tunnel):
    """The keywords TunnelApplier gives ipr.link('add', ...) for the tunnel of tunnel_spec_of(tunnel)."""
    added = []

    class Recording:
        @staticmethod
        def link(action, **args):
            added.append((action, args))

        @staticmethod
        def link_lookup(ifname):
            return [9]

    applier = _secy.TunnelApplier(Recording(), tunnel_spec_of(tunnel))
    applier.apply({'op': 'add_tunnel', 'text': 'add'})
    assert [action for action, args in added] == ['add'] and applier.created == 9
    return added[0][1]


def test_the_gretap_tunnel_request_carries_its_ends_and_reads_back_through_pyroute2():
    message = through_pyroute2(tunnel_request_of(TUNNEL))
    assert message.get_attr('IFLA_LINKINFO').get_attr('IFLA_INFO_KIND') == 'gretap'
    have = _secy.read_tunnel(OneLinkIpr(message), 'gt1')
    assert (have['kind'], have['local'], have['remote'], have['address'], have['mtu']) == (
        'gretap', '192.0.2.1', '192.0.2.2', TUNNEL_MAC, 1425)
    assert _secy.plan_tunnel(tunnel_spec_of(TUNNEL), have) == []


def test_the_ip6gretap_tunnel_request_carries_its_ends_and_reads_back_through_pyroute2():
    message = through_pyroute2(tunnel_request_of(TUNNEL6))
    assert message.get_attr('IFLA_LINKINFO').get_attr('IFLA_INFO_KIND') == 'ip6gretap'
    have = _secy.read_tunnel(OneLinkIpr(message), 'gt1')
    assert (have['kind'], have['local'], have['remote']) == ('ip6gretap', '2001:db8::1', '2001:db8::2')
    assert _secy.plan_tunnel(tunnel_spec_of(TUNNEL6), have) == []


def test_a_secy_mtu_that_does_not_fit_the_tunnel_is_refused_or_converges_once(kernel):
    wanted = tunnel_params(mtu=1400)  # 1400 + 32 bytes of MACsec > the tunnel's 1425
    try:
        spec = _secy.normalize_spec(wanted, key_id_of)
    except _secy.SpecError as error:
        assert error.field in ('mtu', 'tunnel.mtu')
        return
    _secy.converge(spec, kernel.ipr, kernel.genl)
    kernel.calls.clear()
    again = _secy.converge(spec, kernel.ipr, kernel.genl)
    assert again['changed'] is False, again['changes']


# ---------------------------------------------------------------------------------------------------------------
# remove(): the SecY, then its tunnel; never a NIC

def test_remove_deletes_the_secy_then_its_tunnel(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    secy, tunnel = kernel.index_of('macsec0'), kernel.index_of('gt1')
    kernel.calls.clear()
    result = _secy.remove('macsec0', kernel.ipr, kernel.genl, tunnel='gt1')
    assert kernel.modifying_calls() == [('link del', {'index': secy}), ('link del', {'index': tunnel})]
    assert result['changed'] is True
    assert result['changes'] == ['delete the macsec link macsec0', 'delete the tunnel gt1']
    assert result['before']['tunnel'] == {'kind': 'gretap', 'local': '192.0.2.1', 'remote': '192.0.2.2',
                                          'address': TUNNEL_MAC, 'mtu': 1425}
    assert kernel.index_of('gt1') is None and kernel.index_of('macsec0') is None


def test_remove_deletes_a_tunnel_left_without_its_secy(kernel):
    kernel.add_tunnel('gt1', TUNNEL)
    result = _secy.remove('macsec0', kernel.ipr, kernel.genl, tunnel='gt1')
    assert call_names(kernel) == ['link del'] and kernel.index_of('gt1') is None
    assert result['changed'] is True and result['changes'] == ['delete the tunnel gt1']


def test_remove_without_a_tunnel_name_keeps_the_tunnel(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    result = _secy.remove('macsec0', kernel.ipr, kernel.genl)
    assert result['changes'] == ['delete the macsec link macsec0']
    assert kernel.index_of('gt1') is not None


def test_remove_never_deletes_a_nic_named_as_the_tunnel(kernel):
    secy_spec = _secy.normalize_spec(params(parent='eth0'), key_id_of)
    _secy.converge(secy_spec, kernel.ipr, kernel.genl)
    kernel.calls.clear()
    result = _secy.remove('macsec0', kernel.ipr, kernel.genl, tunnel='eth0')
    assert call_names(kernel) == ['link del'] and kernel.index_of('eth0') is not None
    assert result['changes'] == ['delete the macsec link macsec0'] and 'tunnel' not in result['before']
    # Nothing of ours left: the NIC alone is no change.
    kernel.calls.clear()
    nothing = _secy.remove('macsec0', kernel.ipr, kernel.genl, tunnel='eth0')
    assert nothing['changed'] is False and kernel.modifying_calls() == []


def test_remove_in_check_mode_changes_nothing(kernel):
    _secy.converge(tunnel_spec_of(), kernel.ipr, kernel.genl)
    kernel.calls.clear()
    result = _secy.remove('macsec0', kernel.ipr, kernel.genl, check_mode=True, tunnel='gt1')
    assert kernel.modifying_calls() == []
    assert result['changed'] is True and result['changes'] == ['delete the macsec link macsec0',
                                                               'delete the tunnel gt1']


def test_remove_of_nothing_changes_nothing(kernel):
    result = _secy.remove('macsec0', kernel.ipr, kernel.genl, tunnel='gt1')
    assert result['changed'] is False and result['changes'] == [] and kernel.modifying_calls() == []


# ---------------------------------------------------------------------------------------------------------------
# The boot state keeps the tunnel

@pytest.mark.parametrize('tunnel', [TUNNEL, TUNNEL6, dict(TUNNEL, mtu=None)], ids=['ipv4', 'ipv6', 'no-mtu'])
def test_spec_to_params_round_trips_the_tunnel(tunnel):
    spec = tunnel_spec_of(tunnel)
    params_back = _secy.spec_to_params(spec)
    assert params_back['tunnel'] == {key: spec['tunnel'][key] for key in ('local', 'remote', 'address', 'mtu')}
    assert _secy.normalize_spec(params_back, key_id_of) == spec


def test_spec_to_params_of_a_secy_on_a_nic_has_no_tunnel():
    spec = _secy.normalize_spec(params(), key_id_of)
    assert 'tunnel' not in _secy.spec_to_params(spec)


def test_the_boot_state_file_keeps_the_tunnel(tmp_path):
    spec = tunnel_spec_of()
    _secy.write_boot_state(str(tmp_path), spec)
    assert _secy.read_boot_states(str(tmp_path), key_id_of) == [(_secy.state_file(str(tmp_path), 'macsec0'), spec)]
    # What the host agent restores at boot makes the tunnel again, with the same MAC (so the same SCI).
    assert '"address": "%s"' % TUNNEL_MAC in _secy.boot_state_text(spec)
