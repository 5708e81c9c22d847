# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One SecY, converged: desired state vs what the kernel has → the fewest ordered changes → applied.

The heart of the kernel provider's idempotence, in three parts:

- `normalize_spec()` checks a desired SecY (the macsec_secy module's options, or a boot state file) and fills
  in the defaults. Every error names its field; nothing on the host has been touched yet.
- `plan()` is pure: desired spec + current state (`read_state()`) → a list of changes, in an order that never
  cuts traffic needlessly (receivers before transmitters, new SAs before the encoding SA moves, removals last)
  and never asks the kernel for what it refuses (an active SA is deactivated before it is deleted; cipher, ICV
  length and SCI port cannot change in place, so the link is recreated and the change says so).
- `apply()` runs the changes through pyroute2 (`_netlink_macsec`). Every TX SA it installs starts above the PN
  high-water mark of the host's registry (`_pn_registry`): the key lifecycle is a property of this code, not of
  a playbook.

The kernel never returns keys, only key ids, so a key change is seen through its key id, which is a one-way
fingerprint of the key unless the user sets one. The state this file reads and returns holds no key.

Standard library and the collection's own netlink layer only: a host-side agent runs the same code at boot.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re

from ansible_collections.l2sec.macsec.plugins.module_utils import _files
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents
from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl

CIPHERS = ('gcm-aes-128', 'gcm-aes-256', 'gcm-aes-xpn-128', 'gcm-aes-xpn-256')
KEY_BYTES = {'gcm-aes-128': 16, 'gcm-aes-xpn-128': 16, 'gcm-aes-256': 32, 'gcm-aes-xpn-256': 32}
XPN_CIPHERS = frozenset(('gcm-aes-xpn-128', 'gcm-aes-xpn-256'))
SECTAG_BYTES = 8
SCI_BYTES = 8

# What the kernel (drivers/net/macsec.c, macsec_changelink) refuses to change on an existing SecY.
RECREATE_OPTIONS = ('cipher', 'icv_len', 'port')
# What it changes in place (macsec_changelink_common), in the order they are compared and shown.
IN_PLACE_OPTIONS = ('encrypt', 'protect', 'include_sci', 'end_station', 'scb', 'replay_protect', 'window',
                    'validate')
# What an MKA daemon (wpa_supplicant, hostapd: driver macsec_linux) sets on a SecY it finds on its parent with its
# SCI: besides the SAs, the RX SCs, the encoding SA and the up/down state (its controlled port). With `mka` the
# module leaves these to it.
MKA_OWNED_OPTIONS = frozenset(('encrypt', 'protect', 'replay_protect', 'window'))

LINK_DEFAULTS = {
    'port': 1, 'cipher': 'gcm-aes-128', 'icv_len': 16, 'encrypt': True, 'protect': True, 'include_sci': True,
    'end_station': False, 'scb': False, 'replay_protect': True, 'window': 0, 'validate': 'strict', 'offload': 'off',
}

_HEX = re.compile(r'[0-9a-fA-F]*\Z')


class SpecError(ValueError):
    """A desired SecY that cannot be applied: `field` names the option, the message says the fix."""

    def __init__(self, field, message):
        super().__init__('%s: %s' % (field, message))
        self.field = field
        self.message = message


class SecyError(Exception):
    """The host refused or cannot do what the plan needs (the message is for a person)."""


# ---------------------------------------------------------------------------------------------------------------
# The desired SecY
# ---------------------------------------------------------------------------------------------------------------

def _hex(value, field, lengths, what):
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).hex()
    if not isinstance(value, str):
        raise SpecError(field, 'must be %s as hex digits' % what)
    digits = re.sub(r'[\s:]', '', value).lower()
    if not _HEX.match(digits) or len(digits) % 2:
        raise SpecError(field, 'is not hex: give %s as hex digits' % what)
    if len(digits) // 2 not in lengths:
        raise SpecError(field, 'is %d hex digits: %s is %s hex digits' % (
            len(digits), what, ' or '.join(str(2 * n) for n in lengths)))
    return digits


def _int(value, field, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SpecError(field, 'must be a whole number from %d to %d, not %r' % (low, high, value))
    return value


def _sci(entry, field):
    if entry.get('sci') is not None:
        if entry.get('mac') is not None:
            raise SpecError(field, 'give sci, or mac and port, not both')
        try:
            return nl.format_sci(nl.sci_int(entry['sci']))
        except ValueError as exc:
            raise SpecError(field + '.sci', str(exc)) from None
    if entry.get('mac') is None:
        raise SpecError(field, 'needs the peer\'s sci, or its mac (and port)')
    try:
        return nl.format_sci(nl.make_sci(entry['mac'], _int(entry.get('port') or 1, field + '.port', 1, 0xffff)))
    except ValueError as exc:
        raise SpecError(field + '.mac', str(exc)) from None


def _sa(entry, field, cipher, default_key_id):
    if not isinstance(entry, dict):
        raise SpecError(field, 'must be a dict with an, key and key_id')
    xpn = cipher in XPN_CIPHERS
    sa = {'an': _int(entry.get('an'), field + '.an', 0, 3)}
    if entry.get('key') is None:
        raise SpecError(field + '.key', 'is missing')
    sa['key'] = _hex(entry['key'], field + '.key', (KEY_BYTES[cipher],), 'a %s key' % cipher)
    if entry.get('key_id') is not None:
        sa['key_id'] = _hex(entry['key_id'], field + '.key_id', (nl.MACSEC_KEYID_LEN,), 'a key id')
    else:
        sa['key_id'] = default_key_id(sa['key'])
    sa['pn'] = _int(entry.get('pn') or 1, field + '.pn', 1, (1 << 64) - 1 if xpn else (1 << 32) - 1)
    sa['active'] = bool(entry.get('active', True))
    if xpn:
        if entry.get('ssci') is None:
            raise SpecError(field + '.ssci', 'is missing: %s needs the SSCI of the transmitting end' % cipher)
        sa['ssci'] = _int(entry['ssci'], field + '.ssci', 0, (1 << 32) - 1)
    elif entry.get('ssci') is not None:
        raise SpecError(field + '.ssci', 'is only for XPN ciphers: remove it, or use gcm-aes-xpn-128/256')
    return sa


def _sas(entries, field, cipher, default_key_id):
    sas = {}
    for index, entry in enumerate(entries or ()):
        sa = _sa(entry, '%s[%d]' % (field, index), cipher, default_key_id)
        if sa['an'] in sas:
            raise SpecError('%s[%d].an' % (field, index), 'AN %d is given twice: each AN holds one SA' % sa['an'])
        sas[sa['an']] = sa
    return sas


def _addresses(values, field):
    if values is None:
        return None
    found = []
    for index, value in enumerate(values):
        try:
            address = ipaddress.ip_interface(str(value))
        except ValueError:
            raise SpecError('%s[%d]' % (field, index), 'is not an address with a prefix length, like '
                                                       '10.0.1.1/24: %r' % (value,)) from None
        if address.ip.is_link_local or address.ip.is_loopback:
            # Only global addresses are read back (the kernel makes its own link-local ones): a link-local one
            # here would be "missing" on every run.
            raise SpecError('%s[%d]' % (field, index), 'is %s, a %s address: give a global address (the kernel '
                                                       'makes the link-local ones itself)' % (
                                                           address, 'loopback' if address.ip.is_loopback
                                                           else 'link-local'))
        found.append(str(address))
    return sorted(set(found))


def _check_mka_spec(params, cipher):
    if cipher in XPN_CIPHERS:
        raise SpecError('cipher', 'is %s: with mka the daemon installs the SAs, and the MKA of wpa_supplicant and '
                                  'hostapd (2.10, 2.11) has no XPN cipher suite: use gcm-aes-128 or gcm-aes-256'
                        % cipher)
    for field in ('tx_sas', 'rx_scs', 'encoding_sa'):
        if params.get(field) not in (None, [], {}):
            raise SpecError(field, 'is given with mka: true, where the MKA daemon installs the SAs: remove it, or '
                                   'set mka: false for static keys')


def normalize_spec(params, default_key_id):
    """The desired SecY, checked and completed. `default_key_id(key_hex)` gives the key id of a key that has
    none (the collection's one-way fingerprint). Raises SpecError naming the field."""
    spec = {'name': params.get('name'), 'parent': params.get('parent')}
    for field in ('name', 'parent'):
        value = spec[field]
        if not isinstance(value, str) or not value or len(value) > 15 or re.search(r'[/:\s]', value):
            raise SpecError(field, 'must be a Linux interface name (1 to 15 characters, no /, : or space)')
    link = {}
    for option, default in LINK_DEFAULTS.items():
        value = params.get(option)
        link[option] = default if value is None else value
    if link['cipher'] not in CIPHERS:
        raise SpecError('cipher', 'must be one of %s, not %r' % (', '.join(CIPHERS), link['cipher']))
    cipher = link['cipher']
    link['port'] = _int(link['port'], 'port', 1, 0xffff)
    link['icv_len'] = _int(link['icv_len'], 'icv_len', 8, 16)
    link['window'] = _int(link['window'], 'window', 0, (1 << 32) - 1)
    if link['validate'] not in nl.VALIDATION:
        raise SpecError('validate', 'must be one of strict, check, disabled')
    if link['offload'] not in nl.OFFLOAD:
        raise SpecError('offload', 'must be one of off, phy, mac')
    for option in ('encrypt', 'protect', 'include_sci', 'end_station', 'scb', 'replay_protect'):
        link[option] = bool(link[option])
    if link['include_sci'] and (link['end_station'] or link['scb']):
        raise SpecError('end_station', 'end_station and scb leave the SCI out of the SecTAG: set include_sci '
                                       'to false with them')
    if link['end_station'] and link['scb']:
        raise SpecError('scb', 'end_station and scb exclude each other (the kernel refuses both): set one of them '
                               'to false')
    if link['window'] and not link['replay_protect']:
        raise SpecError('window', 'a replay window needs replay_protect: true')
    if cipher in XPN_CIPHERS and link['window'] > nl.XPN_MAX_WINDOW:
        raise SpecError('window', 'is %d: the replay window of an XPN cipher is at most %d (2**30 - 1)'
                                  % (link['window'], nl.XPN_MAX_WINDOW))
    spec['link'] = link
    spec['mka'] = bool(params.get('mka'))
    if spec['mka']:
        _check_mka_spec(params, cipher)
    xpn = cipher in XPN_CIPHERS
    if xpn:
        if params.get('salt') is None:
            raise SpecError('salt', 'is missing: %s needs the link\'s 12-byte salt' % cipher)
        spec['salt'] = _hex(params['salt'], 'salt', (nl.MACSEC_SALT_LEN,), 'an XPN salt')
    elif params.get('salt') is not None:
        raise SpecError('salt', 'is only for XPN ciphers: remove it, or use gcm-aes-xpn-128/256')
    else:
        spec['salt'] = None
    spec['tx_sas'] = _sas(params.get('tx_sas'), 'tx_sas', cipher, default_key_id)
    spec['rx_scs'] = {}
    for index, entry in enumerate(params.get('rx_scs') or ()):
        field = 'rx_scs[%d]' % index
        if not isinstance(entry, dict):
            raise SpecError(field, 'must be a dict with sci (or mac and port) and sas')
        sci = _sci(entry, field)
        if sci in spec['rx_scs']:
            raise SpecError(field, 'SCI %s is given twice' % sci)
        spec['rx_scs'][sci] = {'sci': sci, 'active': bool(entry.get('active', True)),
                               'sas': _sas(entry.get('sas'), field + '.sas', cipher, default_key_id)}
    encoding_sa = params.get('encoding_sa')
    if encoding_sa is None:
        active = sorted(an for an, sa in spec['tx_sas'].items() if sa['active'])
        encoding_sa = (active or sorted(spec['tx_sas']) or [0])[0]
    link['encoding_sa'] = _int(encoding_sa, 'encoding_sa', 0, 3)
    if spec['tx_sas'] and link['encoding_sa'] not in spec['tx_sas']:
        raise SpecError('encoding_sa', 'is AN %d, which has no TX SA: give a TX SA with that AN, or set '
                                       'encoding_sa to one of %s' % (link['encoding_sa'], sorted(spec['tx_sas'])))
    overhead = SECTAG_BYTES + SCI_BYTES + link['icv_len']
    spec['overhead'] = overhead
    spec['mtu'] = None if params.get('mtu') is None else _int(params['mtu'], 'mtu', 68, 65535 - overhead)
    spec['addresses'] = _addresses(params.get('addresses'), 'addresses')
    spec['parent_ipv6'] = params.get('parent_ipv6')
    spec['tunnel'] = _tunnel(params.get('tunnel'))
    tunnel_mtu = spec['tunnel']['mtu'] if spec['tunnel'] else None
    if spec['mtu'] is not None and tunnel_mtu is not None and spec['mtu'] + overhead > tunnel_mtu:
        raise SpecError('mtu', 'is %d, but the tunnel\'s MTU %d leaves %d for the macsec interface (%d bytes of '
                               'MACsec overhead): lower mtu, or raise tunnel.mtu' % (
                                   spec['mtu'], tunnel_mtu, tunnel_mtu - overhead, overhead))
    return spec


# macsec_over_ipsec: the SecY's parent is a GRETAP tunnel between two underlay addresses, made by this code too.
TUNNEL_KINDS = {4: 'gretap', 6: 'ip6gretap'}
_MAC = re.compile(r'[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\Z')


def _tunnel_address(value, field):
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        raise SpecError(field, 'must be an IP address (an underlay address of the tunnel), not %r' % (value,)) from None


def _tunnel(value):
    """The tunnel under the SecY, checked: {kind, local, remote, address, mtu}; None without one."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpecError('tunnel', 'must be a dict with local, remote, address and mtu')
    local = _tunnel_address(value.get('local'), 'tunnel.local')
    remote = _tunnel_address(value.get('remote'), 'tunnel.remote')
    if local.version != remote.version:
        raise SpecError('tunnel.remote', 'is IPv%d but tunnel.local is IPv%d: a tunnel runs between two addresses of '
                                         'one family' % (remote.version, local.version))
    if local == remote:
        raise SpecError('tunnel.remote', 'is the local address: give the peer\'s underlay address')
    address = value.get('address')
    if not isinstance(address, str) or not _MAC.match(address) or int(address[:2], 16) & 1:
        raise SpecError('tunnel.address', 'must be a unicast MAC address like 02:00:5e:10:00:01 (the SCI derives '
                                          'from it)')
    mtu = value.get('mtu')
    low = 1280 if local.version == 6 else 68
    return {'kind': TUNNEL_KINDS[local.version], 'local': str(local), 'remote': str(remote),
            'address': address.lower(), 'mtu': None if mtu is None else _int(mtu, 'tunnel.mtu', low, 65535)}


# ---------------------------------------------------------------------------------------------------------------
# What the kernel has
# ---------------------------------------------------------------------------------------------------------------

IFF_UP = 0x1


def link_kind(link):
    info = link.get_attr('IFLA_LINKINFO')
    return info.get_attr('IFLA_INFO_KIND') if info is not None else None


def _proc_parent_ipv6(parent, root='/proc/sys/net/ipv6/conf'):
    """True when IPv6 is enabled on the parent, False when disabled, None when the host has no IPv6."""
    try:
        with open('%s/%s/disable_ipv6' % (root, parent), encoding='ascii') as handle:
            return handle.read().strip() == '0'
    except OSError:
        return None


def read_parent(ipr, parent):
    """The parent NIC: index, MAC, MTU, up, IPv6 on. Raises SecyError when it does not exist."""
    found = ipr.link_lookup(ifname=parent)
    if not found:
        raise SecyError('the parent interface %s does not exist on this host: check the link\'s ends[].interface'
                        % parent)
    link = ipr.get_links(found[0])[0]
    return {'index': found[0], 'name': parent, 'mac': link.get_attr('IFLA_ADDRESS'),
            'mtu': link.get_attr('IFLA_MTU'), 'up': bool(link['flags'] & IFF_UP),
            'ipv6': _proc_parent_ipv6(parent)}


# pyroute2 names the endpoint attributes by kind, in requests (gre_local, ip6gre_local) and in dumps.
GRE_PREFIX = {'gretap': 'gre_', 'ip6gretap': 'ip6gre_'}


def _gre_data(link):
    info = link.get_attr('IFLA_LINKINFO')
    data = info.get_attr('IFLA_INFO_DATA') if info is not None else None
    if data is None or isinstance(data, (str, bytes)):
        return {}
    prefix = 'IFLA_IP6GRE_' if link_kind(link) == 'ip6gretap' else 'IFLA_GRE_'
    return {'local': data.get_attr(prefix + 'LOCAL'), 'remote': data.get_attr(prefix + 'REMOTE')}


def _normal_ip(value):
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def read_tunnel(ipr, name):
    """The interface `name` as a tunnel: index, kind, local, remote, address, mtu, up; None when it does not exist."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        return None
    link = ipr.get_links(found[0])[0]
    gre = _gre_data(link)
    mac = link.get_attr('IFLA_ADDRESS')
    return {'index': found[0], 'kind': link_kind(link), 'local': _normal_ip(gre.get('local')),
            'remote': _normal_ip(gre.get('remote')), 'address': mac.lower() if mac else mac,
            'mtu': link.get_attr('IFLA_MTU'), 'up': bool(link['flags'] & IFF_UP)}


def planned_parent(spec):
    """The tunnel as it will be once made: what plan() needs of a parent that does not exist yet."""
    tunnel = spec['tunnel']
    return {'index': None, 'name': spec['parent'], 'mac': tunnel['address'], 'up': False, 'ipv6': None,
            'mtu': tunnel['mtu'] or DEFAULT_GRETAP_MTU[tunnel['kind']]}


# What the kernel gives a GRETAP tunnel whose MTU is not set: 1500 less the outer IP header, GRE and Ethernet
# (and for IPv6 the 8-byte encapsulation limit option).
DEFAULT_GRETAP_MTU = {'gretap': 1462, 'ip6gretap': 1434}


def plan_tunnel(spec, have):
    """The changes that make the tunnel under the SecY: add it, recreate it (the kernel cannot move a tunnel's
    ends, and the SecY's SCI comes from its MAC), or set its MTU. Refuses to take over an interface that is not a
    tunnel of this kind."""
    want = spec['tunnel']
    if want is None:
        return []
    if have is not None and have['kind'] not in TUNNEL_KINDS.values():
        raise SecyError('%s exists and is not a GRETAP tunnel (it is %s): the end\'s interface names the tunnel this '
                        'collection makes; rename it, or remove that interface'
                        % (spec['parent'], have['kind'] or 'a NIC'))
    changes = []
    if have is not None:
        reasons = ['%s %s -> %s' % (key, have[key], want[key]) for key in ('kind', 'local', 'remote', 'address')
                   if have[key] != want[key]]
        if not reasons:
            if want['mtu'] is not None and have['mtu'] != want['mtu']:
                changes.append(_change('set_tunnel_mtu', 'set the MTU of the tunnel %s %s -> %d' % (
                    spec['parent'], have['mtu'], want['mtu']), mtu=want['mtu']))
            return changes
        changes.append(_change('del_tunnel', 'recreate the tunnel %s, because the kernel cannot change %s in place '
                                             '(the SecY on it goes too): delete it' % (spec['parent'], ', '.join(reasons)),
                               index=have['index']))
    changes.append(_change('add_tunnel', 'add the %s tunnel %s from %s to %s' % (
        want['kind'], spec['parent'], want['local'], want['remote'])))
    return changes


def display_tunnel(tunnel):
    if tunnel is None:
        return None
    return {key: tunnel.get(key) for key in ('kind', 'local', 'remote', 'address', 'mtu')}


def _addresses_of(ipr, index):
    found = []
    for msg in ipr.get_addr(index=index):
        if msg['scope'] != 0:  # only global addresses: the kernel's own link-local ones are not ours
            continue
        found.append(str(ipaddress.ip_interface('%s/%d' % (msg.get_attr('IFA_ADDRESS'), msg['prefixlen']))))
    return sorted(found)


def read_state(ipr, genl, name, secys=None):
    """The SecY called `name` as plain data (no keys), or None when there is no such interface.

    `secys`: what one `genl.dump()` of every SecY returned, for callers that read many (one dump, not one each)."""
    found = ipr.link_lookup(ifname=name)
    if not found:
        return None
    index = found[0]
    link = ipr.get_links(index)[0]
    kind = link_kind(link)
    if kind != 'macsec':
        raise SecyError('%s exists and is a %s interface, not macsec: choose another macsec_ifname, or remove it'
                        % (name, kind or 'physical'))
    if secys is None:
        dumped = genl.dump(index)
    else:
        dumped = [secy for secy in secys if secy['ifindex'] == index]
    if not dumped:
        raise SecyError('%s is a macsec link but the kernel returned no SecY for it' % name)
    secy = dumped[0]
    parent_index = link.get_attr('IFLA_LINK')
    parents = ipr.get_links(parent_index) if parent_index else []
    state = {
        'index': index,
        'name': name,
        'parent': parents[0].get_attr('IFLA_IFNAME') if parents else None,
        'mtu': link.get_attr('IFLA_MTU'),
        'up': bool(link['flags'] & IFF_UP),
        'addresses': _addresses_of(ipr, index),
        'link': dict(secy['secy'], offload=secy['offload'] or 'off'),
        'tx_sas': {sa['an']: sa for sa in secy['tx_sas']},
        'rx_scs': {sc['sci']: dict(sc, sas={sa['an']: sa for sa in sc['sas']}) for sc in secy['rx_scs']},
        'stats': {'secy': secy['secy_stats'], 'txsc': secy['txsc_stats']},
    }
    sci = state['link'].get('sci')
    if sci is not None:
        state['link']['port'] = int(sci, 16) & 0xffff
    return state


def macsec_link_names(ipr):
    """The names of every macsec interface of the host."""
    return sorted(link.get_attr('IFLA_IFNAME') for link in ipr.get_links() if link_kind(link) == 'macsec')


def read_all(ipr, genl, name=None):
    """public_state() of every SecY (or of the one called `name`; SecyError when there is none)."""
    found = []
    secys = None if name else genl.dump()
    for each in [name] if name else macsec_link_names(ipr):
        state = read_state(ipr, genl, each, secys)
        if state is None:
            raise SecyError('there is no interface %s on this host' % each)
        found.append(public_state(state))
    return found


def add_registry_marks(secy, registry):
    """Add to each TX SA of a public_state() what the registry reserved for its key and the PNs left."""
    if registry is None:
        return secy
    for sa in secy['tx_sas']:
        entry = registry.find_key_id(secy['link'].get('sci'), sa.get('keyid'))
        if entry is not None:
            sa['pn_reserved'] = entry['reserved']
            sa['pn_headroom'] = registry.headroom_of(entry)
    return secy


# ---------------------------------------------------------------------------------------------------------------
# The plan: pure
# ---------------------------------------------------------------------------------------------------------------

def _change(op, text, **args):
    return dict(args, op=op, text=text)


def _sa_label(an, sci=None):
    return 'RX SA %d of SCI %s' % (an, sci) if sci else 'TX SA %d' % an


def recreate_reasons(spec, current, parent):
    """Why the link must be deleted and added again (the kernel cannot change these in place)."""
    reasons = []
    if current['parent'] != parent['name']:
        reasons.append('parent %s -> %s' % (current['parent'], parent['name']))
    for option in RECREATE_OPTIONS:
        have, want = current['link'].get(option), spec['link'][option]
        if have != want:
            reasons.append('%s %s -> %s' % (option, have, want))
    return reasons


def _plan_sas(desired, current, sci):
    """Add, replace (key changed: deactivate, delete, add), (de)activate SAs of one SC. Removals are separate."""
    changes = []
    kind = 'rxsa' if sci else 'txsa'
    for an in sorted(desired):
        want = desired[an]
        have = current.get(an)
        label = _sa_label(an, sci)
        if have is not None and have.get('keyid') == want['key_id'] and have.get('ssci') == want.get('ssci'):
            if have['active'] != want['active']:
                changes.append(_change('update_' + kind, '%s %s' % ('activate' if want['active'] else 'deactivate',
                                                                    label), an=an, sci=sci, active=want['active']))
            continue
        if have is not None:
            if have['active']:
                changes.append(_change('update_' + kind, 'deactivate %s (its key changes)' % label, an=an, sci=sci,
                                       active=False))
            changes.append(_change('del_' + kind, 'delete %s (key id %s)' % (label, have.get('keyid')), an=an,
                                   sci=sci, key_id=have.get('keyid'), pn=have.get('pn')))
        changes.append(_change('add_' + kind, 'add %s (key id %s%s)' % (
            label, want['key_id'], '' if want['active'] else ', inactive'), an=an, sci=sci))
    return changes


def _plan_removals(spec, current):
    changes = []
    for an in sorted(set(current['tx_sas']) - set(spec['tx_sas'])):
        have = current['tx_sas'][an]
        if have['active']:
            changes.append(_change('update_txsa', 'deactivate TX SA %d (no longer wanted)' % an, an=an, sci=None,
                                   active=False))
        changes.append(_change('del_txsa', 'delete TX SA %d (key id %s)' % (an, have.get('keyid')), an=an,
                               sci=None, key_id=have.get('keyid'), pn=have.get('pn')))
    for sci in sorted(current['rx_scs']):
        have_sc = current['rx_scs'][sci]
        if sci not in spec['rx_scs']:
            changes.append(_change('del_rxsc', 'delete RX SC %s and its SAs' % sci, sci=sci))
            continue
        for an in sorted(set(have_sc['sas']) - set(spec['rx_scs'][sci]['sas'])):
            if have_sc['sas'][an]['active']:
                changes.append(_change('update_rxsa', 'deactivate %s (no longer wanted)' % _sa_label(an, sci),
                                       an=an, sci=sci, active=False))
            changes.append(_change('del_rxsa', 'delete %s' % _sa_label(an, sci), an=an, sci=sci))
    return changes


def _plan_link_options(spec, current):
    changed = {}
    for option in IN_PLACE_OPTIONS:
        if spec['mka'] and option in MKA_OWNED_OPTIONS:
            continue
        if option == 'window' and not spec['link']['replay_protect']:
            continue  # the kernel keeps the old window while replay protection is off; it means nothing then
        if current['link'].get(option) != spec['link'][option]:
            changed[option] = spec['link'][option]
    if changed.get('replay_protect') is True:
        # The kernel refuses replay protection turned on without a window in the same request (EINVAL), even when
        # the window it keeps already has the wanted value.
        changed['window'] = spec['link']['window']
    if 'replay_protect' in changed and spec['link']['replay_protect']:
        changed['window'] = spec['link']['window']  # the kernel refuses replay protection without its window
    changes = []
    if changed:
        shown = ', '.join('%s %s -> %s' % (k, current['link'].get(k), v) for k, v in changed.items())
        changes.append(_change('set_link', 'change %s' % shown, options=changed))
    offload = spec['link']['offload']
    if (current['link'].get('offload') or 'off') != offload:
        changes.append(_change('set_offload', 'change offload %s -> %s' % (current['link'].get('offload'), offload),
                               offload=offload))
    return changes


def changelink_data(options):
    """IFLA_INFO_DATA for an in-place change: only the options that change (the netlink layer checks the
    kernel's rules: replay protection comes with its window, end_station and scb without the SCI)."""
    return nl.change_link_data(**options)


def desired_mtu(spec, parent):
    """The macsec MTU: the one asked for, or the parent's less the MACsec overhead (SecTAG with SCI + ICV)."""
    if spec['mtu'] is not None:
        return spec['mtu']
    return parent['mtu'] - spec['overhead']


def _plan_interface(spec, current, parent):
    changes = []
    mtu = desired_mtu(spec, parent)
    if mtu + spec['overhead'] > parent['mtu']:
        changes.append(_change('set_parent_mtu', 'raise the MTU of the parent %s %d -> %d (room for the %d bytes '
                                                 'of MACsec overhead)' % (parent['name'], parent['mtu'],
                                                                          mtu + spec['overhead'], spec['overhead']),
                               mtu=mtu + spec['overhead']))
    if spec['parent_ipv6'] is not None and parent['ipv6'] is not None and parent['ipv6'] != spec['parent_ipv6']:
        changes.append(_change('set_parent_ipv6', '%s IPv6 on the parent %s%s' % (
            'enable' if spec['parent_ipv6'] else 'disable', parent['name'],
            '' if spec['parent_ipv6'] else ' (no cleartext neighbour discovery beside the link)'),
            enabled=spec['parent_ipv6']))
    if not parent['up']:
        changes.append(_change('set_parent_up', 'bring the parent %s up' % parent['name']))
    if current is None:
        changes.append(_change('set_mtu', 'set the MTU to %d' % mtu, mtu=mtu))
    elif current['mtu'] != mtu:
        changes.append(_change('set_mtu', 'set the MTU %d -> %d' % (current['mtu'], mtu), mtu=mtu))
    have = [] if current is None else current['addresses']
    if spec['addresses'] is not None:
        for address in spec['addresses']:
            if address not in have:
                changes.append(_change('add_address', 'add the address %s' % address, address=address))
        for address in have:
            if address not in spec['addresses']:
                changes.append(_change('del_address', 'remove the address %s' % address, address=address))
    if current is None or not current['up']:
        changes.append(_change('set_up', 'bring %s up' % spec['name']))
    return changes


def plan(spec, current, parent):
    """The ordered changes that take `current` (read_state(), or None) to `spec` (normalize_spec())."""
    changes = []
    recreate = []
    if current is not None:
        recreate = recreate_reasons(spec, current, parent)
        if recreate:
            changes.append(_change('del_link', 'recreate the link, because the kernel cannot change %s in place: '
                                               'delete it' % ', '.join(recreate), reasons=recreate))
    if current is None or recreate:
        changes.append(_change('add_link', 'add the macsec link %s on %s (%s)' % (
            spec['name'], parent['name'], spec['link']['cipher'])))
        empty = {'tx_sas': {}, 'rx_scs': {}}
        sa_base, link_changes = empty, []
    else:
        sa_base = current
        link_changes = _plan_link_options(spec, current)
    changes.extend(link_changes)
    if spec['mka']:
        # The daemon owns the SAs and the controlled port (up/down): only the link and the interface are ours.
        changes.extend(change for change in _plan_interface(spec, None if recreate else current, parent)
                       if change['op'] != 'set_up')
        return changes
    # Receivers first: a new RX SA is ready before any peer can send with its key.
    for sci in sorted(spec['rx_scs']):
        want = spec['rx_scs'][sci]
        have = sa_base['rx_scs'].get(sci)
        if have is None:
            changes.append(_change('add_rxsc', 'add RX SC %s' % sci, sci=sci, active=want['active']))
            changes.extend(_plan_sas(want['sas'], {}, sci))
            continue
        if have['active'] != want['active']:
            changes.append(_change('update_rxsc', '%s RX SC %s' % ('activate' if want['active'] else 'deactivate',
                                                                   sci), sci=sci, active=want['active']))
        changes.extend(_plan_sas(want['sas'], have['sas'], sci))
    changes.extend(_plan_sas(spec['tx_sas'], sa_base['tx_sas'], None))
    if current is not None and not recreate and current['link'].get('encoding_sa') != spec['link']['encoding_sa']:
        changes.append(_change('set_link', 'change encoding_sa %s -> %s' % (
            current['link'].get('encoding_sa'), spec['link']['encoding_sa']),
            options={'encoding_sa': spec['link']['encoding_sa']}))
    if current is not None and not recreate:
        changes.extend(_plan_removals(spec, current))
    changes.extend(_plan_interface(spec, None if recreate else current, parent))
    return changes


# ---------------------------------------------------------------------------------------------------------------
# Display: before/after without keys, for diff mode and the module's return values
# ---------------------------------------------------------------------------------------------------------------

def _shown_sa(sa):
    shown = {'key_id': sa.get('key_id', sa.get('keyid')), 'active': sa['active']}
    if sa.get('ssci') is not None:
        shown['ssci'] = sa['ssci']
    return shown


def display_spec(spec, parent):
    """The desired SecY as diff mode shows it: key ids, never keys."""
    link = dict(spec['link'])
    shown = {
        'name': spec['name'], 'parent': spec['parent'], 'link': link,
        'mtu': desired_mtu(spec, parent) if parent else spec['mtu'],
        'addresses': spec['addresses'],
        'tx_sas': {str(an): _shown_sa(sa) for an, sa in sorted(spec['tx_sas'].items())},
        'rx_scs': {sci: {'active': sc['active'], 'sas': {str(an): _shown_sa(sa) for an, sa in sorted(sc['sas'].items())}}
                   for sci, sc in sorted(spec['rx_scs'].items())},
    }
    return _without_mka_owned(shown, spec)


def _without_mka_owned(shown, spec):
    """With mka, what the daemon owns (SAs, encoding SA, encrypt, replay) is no part of the diff."""
    if spec is None or not spec.get('mka'):
        return shown
    shown = dict(shown, link={key: value for key, value in shown['link'].items()
                              if key not in MKA_OWNED_OPTIONS and key != 'encoding_sa'})
    shown.pop('tx_sas', None)
    shown.pop('rx_scs', None)
    return shown


def display_state(state, spec=None):
    """The current SecY in the same shape as display_spec() (only the options the spec manages)."""
    if state is None:
        return {}
    link = {option: state['link'].get(option) for option in LINK_DEFAULTS}
    link['encoding_sa'] = state['link'].get('encoding_sa')
    shown = {
        'name': state['name'], 'parent': state['parent'], 'link': link, 'mtu': state['mtu'],
        'addresses': state['addresses'] if spec is None or spec['addresses'] is not None else None,
        'tx_sas': {str(an): _shown_sa(sa) for an, sa in sorted(state['tx_sas'].items())},
        'rx_scs': {sci: {'active': sc['active'], 'sas': {str(an): _shown_sa(sa) for an, sa in sorted(sc['sas'].items())}}
                   for sci, sc in sorted(state['rx_scs'].items())},
    }
    return _without_mka_owned(shown, spec)


def public_state(state):
    """A SecY as macsec_info and macsec_secy return it: link, SAs with PNs and key ids, statistics. No keys."""
    if state is None:
        return None
    return {
        'name': state['name'], 'parent': state['parent'], 'mtu': state['mtu'], 'up': state['up'],
        'addresses': state['addresses'], 'link': dict(state['link']),
        'tx_sas': [dict(sa) for an, sa in sorted(state['tx_sas'].items())],
        'rx_scs': [dict(sc, sas=[dict(sa) for an, sa in sorted(sc['sas'].items())])
                   for sci, sc in sorted(state['rx_scs'].items())],
        'stats': state['stats'],
    }


# ---------------------------------------------------------------------------------------------------------------
# Applying a plan
# ---------------------------------------------------------------------------------------------------------------

def _write_sysctl(path, value):
    with open(path, 'w', encoding='ascii') as handle:
        handle.write(value)


SYSCTL_ROOT = '/proc/sys/net/ipv6/conf'


def set_ipv6(name, enabled, sysctl_root=None):
    """Enable or disable IPv6 on the interface `name` (its disable_ipv6 sysctl)."""
    _write_sysctl('%s/%s/disable_ipv6' % (sysctl_root or SYSCTL_ROOT, name), '0' if enabled else '1')


class Applier:
    """Runs plan() changes on the host. `registry` is an open _pn_registry.PnRegistry (or None: no record)."""

    def __init__(self, ipr, genl, spec, parent, current, registry=None, sysctl_root='/proc/sys/net/ipv6/conf',
                 parents_file=None):
        self.ipr = ipr
        self.genl = genl
        self.spec = spec
        self.parent = parent
        self.registry = registry
        self.sysctl_root = sysctl_root
        # Where the parent's settings before the collection's first change are kept, for teardown (None: nowhere).
        # A tunnel under the SecY is the collection's own: teardown deletes it, nothing to put back.
        self.parents_file = None if spec['tunnel'] else parents_file
        self.index = None if current is None else current['index']
        self.sci = None if current is None else current['link'].get('sci')
        self.created = False
        self.start_pns = {}

    def apply(self, change):
        getattr(self, 'do_' + change['op'])(change)

    # link -------------------------------------------------------------------------------------------------------
    def do_del_link(self, change):
        self.ipr.link('del', index=self.index)
        self.index = None

    def do_add_link(self, change):
        link = self.spec['link']
        data = nl.link_data(cipher=link['cipher'], icv_len=link['icv_len'], encrypt=link['encrypt'],
                            port=link['port'], validate=link['validate'], protect=link['protect'],
                            replay_protect=link['replay_protect'],
                            window=link['window'] if link['replay_protect'] else None,
                            encoding_sa=link['encoding_sa'], include_sci=link['include_sci'],
                            end_station=link['end_station'], scb=link['scb'])
        try:
            self.ipr.link('add', ifname=self.spec['name'], kind='macsec', link=self.parent['index'], **data)
        except nl.NetlinkError as exc:
            raise nl.link_error(exc, 'add', data, self.spec['name']) from None
        self.index = self.ipr.link_lookup(ifname=self.spec['name'])[0]
        self.created = True
        self.sci = nl.format_sci(nl.make_sci(self.parent['mac'], link['port']))
        if link['offload'] != 'off':
            self.genl.set_offload(self.index, link['offload'])

    def do_set_link(self, change):
        data = changelink_data(change['options'])
        try:
            self.ipr.link('set', index=self.index, kind='macsec', **data)
        except nl.NetlinkError as exc:
            raise nl.link_error(exc, 'set', data, self.spec['name']) from None

    def do_set_offload(self, change):
        self.genl.set_offload(self.index, change['offload'])

    # SCs and SAs ----------------------------------------------------------------------------------------------------
    def _want_sa(self, change):
        if change['sci']:
            return self.spec['rx_scs'][change['sci']]['sas'][change['an']]
        return self.spec['tx_sas'][change['an']]

    def _xpn(self):
        return self.spec['link']['cipher'] in XPN_CIPHERS

    def do_add_rxsc(self, change):
        self.genl.add_rxsc(self.index, change['sci'], active=change['active'])

    def do_update_rxsc(self, change):
        self.genl.update_rxsc(self.index, change['sci'], active=change['active'])

    def do_del_rxsc(self, change):
        self.genl.del_rxsc(self.index, change['sci'])

    def do_add_rxsa(self, change):
        sa = self._want_sa(change)
        self.genl.add_rxsa(self.index, change['sci'], sa['an'], sa['pn'], sa['key'], sa['key_id'], sa['active'],
                           ssci=sa.get('ssci'), salt=self.spec['salt'], xpn=self._xpn())

    def do_update_rxsa(self, change):
        self.genl.update_rxsa(self.index, change['sci'], change['an'], active=change['active'], xpn=self._xpn())

    def do_del_rxsa(self, change):
        self.genl.del_rxsa(self.index, change['sci'], change['an'])

    def do_add_txsa(self, change):
        sa = self._want_sa(change)
        pn = sa['pn']
        if self.registry is not None:
            # Write-ahead: the reservation is on disk before the SA can send its first frame.
            pn = self.registry.claim(self.sci, sa['key'], desired_pn=sa['pn'], xpn=self._xpn(),
                                     key_id=sa['key_id'], ifname=self.spec['name'])
        self.start_pns[sa['an']] = pn
        self.genl.add_txsa(self.index, sa['an'], pn, sa['key'], sa['key_id'], sa['active'],
                           ssci=sa.get('ssci'), salt=self.spec['salt'], xpn=self._xpn())

    def do_update_txsa(self, change):
        self.genl.update_txsa(self.index, change['an'], active=change['active'], xpn=self._xpn())

    def do_del_txsa(self, change):
        if self.registry is not None and change.get('key_id'):
            self.registry.retire_key_id(self.sci, change['key_id'], next_pn=change.get('pn'))
            self.registry.save()
        self.genl.del_txsa(self.index, change['an'])

    # the interface ------------------------------------------------------------------------------------------------
    def _remember_parent(self, setting):
        if self.parents_file:
            _parents.remember(self.parent['name'], setting, self.parent[setting], self.parents_file)

    def do_set_parent_mtu(self, change):
        self._remember_parent('mtu')
        self.ipr.link('set', index=self.parent['index'], mtu=change['mtu'])

    def do_set_parent_ipv6(self, change):
        self._remember_parent('ipv6')
        set_ipv6(self.parent['name'], change['enabled'], self.sysctl_root)

    def do_set_parent_up(self, change):
        self._remember_parent('up')
        self.ipr.link('set', index=self.parent['index'], state='up')

    def do_set_mtu(self, change):
        self.ipr.link('set', index=self.index, mtu=change['mtu'])

    def do_add_address(self, change):
        address = ipaddress.ip_interface(change['address'])
        self.ipr.addr('add', index=self.index, address=str(address.ip), prefixlen=address.network.prefixlen)

    def do_del_address(self, change):
        address = ipaddress.ip_interface(change['address'])
        self.ipr.addr('del', index=self.index, address=str(address.ip), prefixlen=address.network.prefixlen)

    def do_set_up(self, change):
        self.ipr.link('set', index=self.index, state='up')


def record_tx_pns(registry, state, spec):
    """Tell the registry where each TX SA of the SecY is now (its next PN), so that a later install of the same
    key starts above it. Keys are known from the spec; an SA whose key id the spec does not hold is recorded by
    key id (installed by someone else, or a key this run replaces)."""
    if registry is None or state is None or (spec or {}).get('mka'):
        return []  # MKA SAKs are fresh keys of the daemon's own lifecycle: no PN to carry over
    sci = state['link'].get('sci')
    xpn = state['link'].get('cipher') in XPN_CIPHERS
    overruns = []
    keys = {sa['key_id']: sa['key'] for sa in (spec or {}).get('tx_sas', {}).values()}
    for sa in state['tx_sas'].values():
        if sa.get('pn') is None or sa.get('keyid') is None:
            continue
        key = keys.get(sa['keyid'])
        if key is not None:
            seen = registry.observe(sci, key, sa['pn'], xpn=xpn, key_id=sa['keyid'], ifname=state['name'])
        else:
            seen = registry.observe_key_id(sci, sa['keyid'], sa['pn'], xpn=xpn, ifname=state['name'])
        if seen and seen.get('overrun'):
            overruns.append('TX SA %d (key id %s) had passed its PN reservation' % (sa['an'], sa['keyid']))
    return overruns


# ---------------------------------------------------------------------------------------------------------------
# Converge and remove: what the module and the boot agent run
# ---------------------------------------------------------------------------------------------------------------

def converge(spec, ipr, genl, registry=None, check_mode=False, parents_file=None):
    """Take the SecY (and the tunnel under it, if any) to `spec`. Returns {changed, changes (texts), before, after,
    secy, start_pns, warnings, link_added}.

    On a kernel refusal halfway, a link or tunnel that this call created is deleted again, and SecyError says what
    was done and what failed; a link that existed before keeps the changes that were made (they are listed)."""
    tunnel = read_tunnel(ipr, spec['parent']) if spec['tunnel'] else None
    tunnel_changes = plan_tunnel(spec, tunnel)
    new_tunnel = any(change['op'] == 'add_tunnel' for change in tunnel_changes)
    current = read_state(ipr, genl, spec['name'])
    parent = planned_parent(spec) if new_tunnel else _parent_as_planned(read_parent(ipr, spec['parent']), spec)
    # A SecY on a tunnel that is made again goes with the old tunnel: plan as for a new link. One on another
    # parent (a NIC) is recreated on the tunnel, and plan() says so.
    gone = new_tunnel and current is not None and current['parent'] == spec['parent']
    changes = tunnel_changes + plan(spec, None if gone else current, parent)
    result = {
        'changed': bool(changes), 'changes': [change['text'] for change in changes],
        'before': display_state(current, spec), 'after': display_spec(spec, parent),
        'start_pns': {}, 'warnings': [],
        # A new (or recreated) link has a new ifindex: an MKA daemon bound to the old one must restart.
        'link_added': any(change['op'] == 'add_link' for change in changes),
    }
    if spec['tunnel']:
        result['before']['tunnel'] = display_tunnel(tunnel)
        result['after']['tunnel'] = display_tunnel(spec['tunnel'])
    if check_mode:
        result['secy'] = public_state(current)
        return result
    # Where the TX SAs are now, before anything changes (a recreated link or tunnel loses them).
    result['warnings'].extend(record_tx_pns(registry, current, spec))
    if changes:
        applier = _apply_all(spec, ipr, genl, registry, tunnel_changes, (parent, current, changes), parents_file)
        result['changes'] = [change['text'] for change in applier.done]
        result['start_pns'] = {str(an): pn for an, pn in applier.start_pns.items()}
        current = read_state(ipr, genl, spec['name'])
        result['warnings'].extend(record_tx_pns(registry, current, spec))
    result['secy'] = public_state(current)
    return result


def _parent_as_planned(parent, spec):
    """An existing tunnel as it will be after its own changes (its MTU)."""
    if spec['tunnel'] and spec['tunnel']['mtu'] is not None:
        return dict(parent, mtu=spec['tunnel']['mtu'])
    return parent


def _apply_all(spec, ipr, genl, registry, tunnel_changes, planned, parents_file=None):
    """Apply the tunnel's changes, then the SecY's. `planned` is (parent, current, changes) as converge() read and
    planned them; after a change of the tunnel the SecY is planned again on what the kernel then has."""
    parent, current, secy_changes = planned
    tunnel_applier = TunnelApplier(ipr, spec)
    applier = None
    doing = None
    try:
        for change in tunnel_changes:
            doing = change
            tunnel_applier.apply(change)
        if tunnel_changes:
            parent = read_parent(ipr, spec['parent'])
            current = read_state(ipr, genl, spec['name'])
            secy_changes = plan(spec, current, parent)
        applier = Applier(ipr, genl, spec, parent, current, registry, parents_file=parents_file)
        applier.done = list(tunnel_applier.done)
        for change in secy_changes:
            doing = change
            applier.apply(change)
            applier.done.append(change)
    except (nl.MacsecError, nl.NetlinkError, OSError, ValueError) as exc:
        done = applier.done if applier is not None else tunnel_applier.done
        undone = []
        if applier is not None and _undo_new_link(ipr, applier):
            # What the new link got went with it; deleting the old link (a recreate) did not come back.
            done = [step for step in done if step['op'] in ('del_link', 'del_tunnel', 'add_tunnel')]
            undone.append('link')
        if tunnel_applier.undo():
            done = [step for step in done if step['op'] in ('del_link', 'del_tunnel')]
            undone.append('tunnel')
        raise SecyError('%s: %s failed: %s.%s%s' % (
            spec['name'], doing['text'], _error_text(exc),
            ' Done before it: %s.' % '; '.join(step['text'] for step in done) if done else '',
            ' The %s this run had added %s removed again.' % (' and the '.join(undone),
                                                              'were' if len(undone) > 1 else 'was') if undone else ''
        )) from None
    return applier


class TunnelApplier:
    """Runs plan_tunnel() changes: the GRETAP tunnel under a SecY (macsec_over_ipsec)."""

    def __init__(self, ipr, spec):
        self.ipr = ipr
        self.spec = spec
        self.created = None
        self.done = []

    def apply(self, change):
        getattr(self, 'do_' + change['op'])(change)
        self.done.append(change)

    def do_del_tunnel(self, change):
        self.ipr.link('del', index=change['index'])

    def do_add_tunnel(self, change):
        tunnel = self.spec['tunnel']
        prefix = GRE_PREFIX[tunnel['kind']]
        options = {'ifname': self.spec['parent'], 'kind': tunnel['kind'], 'address': tunnel['address'],
                   prefix + 'local': tunnel['local'], prefix + 'remote': tunnel['remote']}
        if tunnel['mtu'] is not None:
            options['mtu'] = tunnel['mtu']
        self.ipr.link('add', **options)
        self.created = self.ipr.link_lookup(ifname=self.spec['parent'])[0]

    def do_set_tunnel_mtu(self, change):
        index = self.ipr.link_lookup(ifname=self.spec['parent'])[0]
        self.ipr.link('set', index=index, mtu=change['mtu'])

    def undo(self):
        """Delete the tunnel this run made (after a failure). True when it did."""
        if self.created is None:
            return False
        try:
            self.ipr.link('del', index=self.created)
        except Exception:  # pylint: disable=broad-except  # the first error is the one to report
            return False
        return True


def _error_text(exc):
    """A kernel refusal for a person: MacsecError has its message; a bare NetlinkError only an errno."""
    message = getattr(exc, 'message', None)
    if message:
        return message
    code = getattr(exc, 'code', None)
    if isinstance(exc, nl.NetlinkError) and isinstance(code, int):
        return '%s (errno %d)' % (os.strerror(code), code)
    return str(exc)


def _undo_new_link(ipr, applier):
    if not applier.created or applier.index is None:
        return False
    try:
        ipr.link('del', index=applier.index)
    except Exception:  # pylint: disable=broad-except  # the first error is the one to report
        return False
    return True


def remove(name, ipr, genl, registry=None, check_mode=False, tunnel=None):
    """Delete the SecY `name` (if it exists), after recording its TX SAs' PNs and retiring their keys; then the
    GRETAP tunnel `tunnel` under it, when given and it is one."""
    current = read_state(ipr, genl, name)
    have = read_tunnel(ipr, tunnel) if tunnel else None
    if have is not None and have['kind'] not in TUNNEL_KINDS.values():
        have = None  # not a tunnel of ours: never delete a NIC
    result = {'changed': current is not None or have is not None, 'changes': [], 'before': display_state(current),
              'after': {}, 'secy': None, 'start_pns': {}, 'warnings': [], 'link_added': False}
    if have is not None:
        result['before']['tunnel'] = display_tunnel(have)
    if current is not None:
        result['changes'].append('delete the macsec link %s' % name)
    if have is not None:
        result['changes'].append('delete the tunnel %s' % tunnel)
    if check_mode:
        return result
    if current is not None:
        result['warnings'].extend(record_tx_pns(registry, current, None))
        if registry is not None:
            for sa in current['tx_sas'].values():
                if sa.get('keyid'):
                    registry.retire_key_id(current['link']['sci'], sa['keyid'], next_pn=sa.get('pn'))
            registry.save()
        ipr.link('del', index=current['index'])
    if have is not None:
        ipr.link('del', index=have['index'])
    return result


# ---------------------------------------------------------------------------------------------------------------
# The boot state: what the host-side agent restores after a reboot (holds keys: 0600 in a 0700 directory)
# ---------------------------------------------------------------------------------------------------------------

STATE_DIR = '/etc/l2sec-macsec/kernel'
STATE_VERSION = 1
STATE_DIR_MODE = 0o700
STATE_FILE_MODE = 0o600


def spec_to_params(spec):
    """The options that normalize_spec() turns back into `spec` (the form the boot state file keeps)."""
    params = dict(spec['link'], name=spec['name'], parent=spec['parent'], salt=spec['salt'], mtu=spec['mtu'],
                  addresses=spec['addresses'], parent_ipv6=spec['parent_ipv6'], mka=spec['mka'])
    if spec['tunnel']:
        params['tunnel'] = {key: spec['tunnel'][key] for key in ('local', 'remote', 'address', 'mtu')}
    if spec['mka']:
        params.pop('encoding_sa')
    params['tx_sas'] = [dict(sa) for an, sa in sorted(spec['tx_sas'].items())]
    params['rx_scs'] = [{'sci': sci, 'active': sc['active'], 'sas': [dict(sa) for an, sa in sorted(sc['sas'].items())]}
                        for sci, sc in sorted(spec['rx_scs'].items())]
    return params


def state_file(state_dir, name):
    return os.path.join(state_dir, name + '.json')


def boot_state_text(spec):
    return json.dumps({'version': STATE_VERSION, 'secy': spec_to_params(spec)}, indent=1, sort_keys=True) + '\n'


def _read_text(path):
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def write_boot_state(state_dir, spec, check_mode=False):
    """Write the SecY's boot state if it differs. Returns True when it changed (or would)."""
    path = state_file(state_dir, spec['name'])
    text = boot_state_text(spec)
    if _read_text(path) == text:
        return False
    if not check_mode:
        _atomic_write(path, text)
    return True


def _atomic_write(path, text):
    directory = os.path.dirname(path)
    _files.ensure_directory(directory, STATE_DIR_MODE)
    os.chmod(directory, STATE_DIR_MODE)  # also an existing one: the files in it hold keys
    _files.write_atomic(path, text.encode('utf-8'), STATE_FILE_MODE, sync_directory=True)


def remove_boot_state(state_dir, name, check_mode=False):
    path = state_file(state_dir, name)
    if not os.path.exists(path):
        return False
    if not check_mode:
        os.unlink(path)
    return True


def read_boot_state(path, default_key_id):
    """The spec of one boot state file. Raises FileNotFoundError, or ValueError (or SpecError) when it is not one."""
    text = _read_text(path)
    if text is None:
        raise FileNotFoundError(path)
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get('version') != STATE_VERSION:
            raise ValueError('unknown boot state version %r' % (data.get('version') if isinstance(data, dict)
                                                                else None,))
        if not isinstance(data.get('secy'), dict):
            raise ValueError('the boot state holds no SecY')
        return normalize_spec(data['secy'], default_key_id)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(str(exc)) from exc


def read_boot_states(state_dir, default_key_id):
    """The specs of every boot state file, as (path, spec or SpecError/ValueError)."""
    found = []
    try:
        names = sorted(os.listdir(state_dir))
    except FileNotFoundError:
        return found
    for name in names:
        if not name.endswith('.json'):
            continue
        path = os.path.join(state_dir, name)
        try:
            found.append((path, read_boot_state(path, default_key_id)))
        except (FileNotFoundError, ValueError) as exc:
            found.append((path, exc))
    return found
