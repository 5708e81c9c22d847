# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The topology contract: validate `macsec_links` (every error at once), normalize a link, expand per host.

Private to the collection and pure: standard library only, no Ansible imports, so that it is fast to test and
runs on the controller before any host is contacted (docs/topology.md is the user-facing page of this file).

Vocabulary: a *link* is described once in the inventory; it has two *ends* (a point-to-point link) or more (a
*segment*). Each end is a host's parent NIC (`interface`); the link's SecY on that host is the macsec interface
`macsec_ifname`. An end's SCI is its parent's MAC and the SCI port.

The checks are driven by option tables (name -> check, default, providers) rather than a wall of ifs, plus a
few small rules for what involves several options. Messages say what is wrong and how to fix it, and never
contain key material: a bad `sak` is "malformed", never printed.
"""

from __future__ import annotations

import base64
import collections
import difflib
import functools
import hashlib
import ipaddress
import re
from collections.abc import Mapping

from ansible_collections.l2sec.macsec.plugins.module_utils import _generations

# Kept equal to galaxy.yml's version by a unit test: messages name the release that lacks a provider.
COLLECTION_VERSION = '0.1.0'

KERNEL = 'kernel'
WPA_SUPPLICANT = 'wpa_supplicant'
BOTH = frozenset((KERNEL, WPA_SUPPLICANT))
KERNEL_ONLY = frozenset((KERNEL,))
WPA_ONLY = frozenset((WPA_SUPPLICANT,))

CIPHERS = ('gcm-aes-128', 'gcm-aes-256', 'gcm-aes-xpn-128', 'gcm-aes-xpn-256')
XPN_CIPHERS = frozenset(('gcm-aes-xpn-128', 'gcm-aes-xpn-256'))
# An explicit SAK is the cipher's key: 16 bytes for the 128-bit ciphers, 32 for the 256-bit ones.
SAK_HEX_DIGITS = {'gcm-aes-128': 32, 'gcm-aes-xpn-128': 32, 'gcm-aes-256': 64, 'gcm-aes-xpn-256': 64}
LAYERINGS = ('ipsec_over_macsec', 'macsec_over_ipsec')

U32_MAX = 2 ** 32 - 1
IFNAME_MAX_BYTES = 15  # IFNAMSIZ (16) minus the terminating NUL
MTU_MIN = 68  # the smallest MTU IPv4 allows (RFC 791); IPv6 needs 1280
IPV6_MTU_MIN = 1280
SECTAG_WITH_SCI = 16
SECTAG_WITHOUT_SCI = 8
DERIVED_IFNAME_PREFIX = 'ms'
RADIUS_DEFAULT_PORT = 1812

# Link names end up in interface names, file names, systemd units and swanctl connection names.
LINK_NAME_PATTERN = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z')
MAC_PATTERN = re.compile(r'[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}\Z')
HEX_PATTERN = re.compile(r'[0-9A-Fa-f]+\Z')
WHITESPACE = re.compile(r'\s')
IFNAME_FORBIDDEN = re.compile(r'[/:\s]')  # the kernel's dev_valid_name()

# What strongSwan is wrongly believed to offer (and AI-written guides invent): refused with the real story.
SWANCTL_MACSEC_FICTIONS = frozenset(('macsec', 'macsec_integ', 'macsec_encrypt', 'macsec_replay_window'))
SWANCTL_MACSEC_MESSAGE = (
    "strongSwan has no MACsec support and no such swanctl option; MACsec is configured by this link's "
    "provider, use the link's `encrypt`/`replay_protect`/`replay_window` options")

# What each wpa_supplicant release can honour of the options it shares with the kernel provider.
# 2.10 is Debian 12's; 2.11 added macsec_csindex (GCM-AES-256) and macsec_offload. Neither has XPN, an ICV
# length other than 16 or a validation mode other than strict. Its macsec_port is 1 to 65534.
WPA_SUPPLICANT_CAPABILITIES = {
    '2.10': {
        'cipher': (('gcm-aes-128',), 'its MKA uses the GCM-AES-128 cipher suite only (no GCM-AES-256, no XPN)'),
        'offload': (('off',), 'it has no MACsec offload (wpa_supplicant 2.11 added macsec_offload)'),
        'validate': (('strict',), 'it always validates frames strictly'),
        'icv_len': ((16,), 'it always uses a 16-byte ICV'),
        'port': (range(1, 65535), 'its macsec_port ranges from 1 to 65534'),
    },
    '2.11': {
        'cipher': (('gcm-aes-128', 'gcm-aes-256'), 'its MKA has no XPN cipher suites'),
        'offload': (('off', 'phy', 'mac'), ''),
        'validate': (('strict',), 'it always validates frames strictly'),
        'icv_len': ((16,), 'it always uses a 16-byte ICV'),
        'port': (range(1, 65535), 'its macsec_port ranges from 1 to 65534'),
    },
}
# revoked_hosts: the pki role's pki_revoked_hosts (hosts whose certificates are all revoked, docs/keys.md).
DEFAULT_OPTIONS = {'wpa_supplicant_version': '2.10', 'revoked_hosts': ()}
WPA_SUPPLICANT_DEBIAN = {'2.10': 'Debian 12', '2.11': 'Debian 13'}

_MISSING = object()
_BAD = object()  # a value that failed its own check: rules that need it stay silent, so errors do not cascade


class ValidationError(Exception):
    """One thing wrong in `macsec_links`: where (link, end, field) and what to do about it."""

    def __init__(self, path, message):
        super().__init__(path, message)
        self.path = path
        self.message = message

    def __str__(self):
        return '%s: %s' % (self.path, self.message)

    def __repr__(self):
        return 'ValidationError(%r, %r)' % (self.path, self.message)

    def __eq__(self, other):
        return isinstance(other, ValidationError) and (self.path, self.message) == (other.path, other.message)

    def __hash__(self):
        return hash((self.path, self.message))


class TopologyErrors(Exception):
    """Every error of an inventory, raised together so that one run shows them all."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__(self.errors)

    def __str__(self):
        return '\n'.join(str(error) for error in self.errors)


# ---------------------------------------------------------------------------------------------------------------
# How values are described in messages: the kind always, the value only when it cannot be key material.

def _kind(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'an integer'
    if isinstance(value, float):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, Mapping):
        return 'a mapping'
    if isinstance(value, (list, tuple)):
        return 'a list'
    return 'a %s' % type(value).__name__


def _show(value):
    """A short rendering of a non-secret value, in YAML spelling."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if value is None:
        return 'null'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + '...')
    return _kind(value)


def _choices(values):
    return ' | '.join(str(value) for value in values)


# ---------------------------------------------------------------------------------------------------------------
# Checks of one value: each returns None when the value is fine, else a message (what is wrong and the fix).

def _integer(low, high):
    def check(value):
        if isinstance(value, bool) or not isinstance(value, int):
            hint = ' (write it without quotes)' if isinstance(value, str) and value.strip().isdigit() else ''
            return 'must be an integer from %d to %d, not %s%s' % (low, high, _kind(value), hint)
        if not low <= value <= high:
            return 'is %d: use an integer from %d to %d' % (value, low, high)
        return None
    return check


def _boolean(value):
    if isinstance(value, bool):
        return None
    # A string 'false' is true in a Jinja test: refusing it keeps a security option from flipping silently.
    return 'must be true or false (a YAML boolean, unquoted), not %s %s' % (_kind(value), _show(value))


# Words that YAML 1.1 (Ansible's YAML) reads as booleans when unquoted.
YAML_BOOLEAN_WORDS = {False: ('off', 'no', 'false'), True: ('on', 'yes', 'true')}


def _choice(values):
    def check(value):
        if isinstance(value, str) and value in values:
            return None
        message = 'is %s: use one of %s' % (_show(value), _choices(values))
        if isinstance(value, bool):
            words = [word for word in YAML_BOOLEAN_WORDS[value] if word in values]
            if words:
                message += " (YAML reads an unquoted %s as %s: write '%s', quoted)" % (
                    words[0], _show(value), words[0])
        return message
    return check


def _hex_digits(lengths, what):
    """Hex key material: the message gives the wanted lengths, never the value (nor its length)."""
    def check(value):
        if not isinstance(value, str):
            return 'must be a quoted string of %s, not %s' % (what, _kind(value))
        if not HEX_PATTERN.match(value) or len(value) not in lengths:
            return 'is malformed: it must be %s' % what
        return None
    return check


def _nonempty_text(value):
    if not isinstance(value, str) or not value.strip():
        return 'must be a non-empty string, not %s' % (_show(value) if isinstance(value, str) else _kind(value))
    if WHITESPACE.search(value):
        return 'is %s: remove the whitespace' % _show(value)
    return None


def ifname_problem(value):
    """Why a Linux interface name is invalid (the kernel's dev_valid_name), or None."""
    if not isinstance(value, str):
        return 'must be an interface name (a string), not %s' % _kind(value)
    if not value:
        return 'is empty: give an interface name of 1 to 15 characters'
    if len(value.encode('utf-8')) > IFNAME_MAX_BYTES:
        return 'is %s, longer than the 15 bytes Linux allows in an interface name: shorten it' % _show(value)
    if value in ('.', '..'):
        return 'is %s, which Linux refuses as an interface name: choose another name' % _show(value)
    if IFNAME_FORBIDDEN.search(value):
        return "is %s: Linux interface names contain no '/', ':' or whitespace" % _show(value)
    return None


def mac_problem(value):
    """Why a value is not a unicast MAC address usable in an SCI, or None."""
    if not isinstance(value, str) or not MAC_PATTERN.match(value):
        return 'is %s: write a MAC address as six colon-separated hex pairs, like 52:54:00:12:34:56' % _show(value)
    if int(value[:2], 16) & 1:
        return 'is %s, a multicast address: an end needs its NIC\'s unicast MAC' % _show(value)
    if int(value.replace(':', ''), 16) == 0:
        return 'is the all-zero MAC: give the NIC\'s real MAC address'
    return None


# The address check and the duplicate-address rule parse the same strings, one link apart: parse each once.
_ip_interface = functools.lru_cache(maxsize=1024)(ipaddress.ip_interface)


def _address(value):
    if not isinstance(value, str) or '/' not in value:
        return 'is %s: write the address with its prefix length, like 10.0.1.1/24 or fd00:1::1/64' % _show(value)
    try:
        interface = _ip_interface(value)
    except ValueError:
        return 'is %s, not an IP address with a prefix length (like 10.0.1.1/24)' % _show(value)
    network = interface.network
    if interface.version == 4 and network.prefixlen <= 30 and interface.ip in (
            network.network_address, network.broadcast_address):
        return 'is %s, the network or broadcast address of %s: give a host address' % (_show(value), network)
    return None


def _ip_address(value):
    try:
        ipaddress.ip_address(value if isinstance(value, str) else None)
    except ValueError:
        return 'is %s: give the end\'s routed IP address (no prefix length), like 192.0.2.10' % _show(value)
    return None


def _link_name(value):
    if not isinstance(value, str) or not LINK_NAME_PATTERN.match(value):
        shown = _show(value) if isinstance(value, str) else _kind(value)
        return ('is %s: a link name is 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter '
                'or digit (it becomes part of interface, file and unit names)' % shown)
    return None


# ---------------------------------------------------------------------------------------------------------------
# The option tables. `providers` are the providers that accept the option; `secret` options are key material.

Option = collections.namedtuple('Option', 'check default providers secret missing',
                                defaults=(None, BOTH, False, None))

LINK_OPTIONS = {
    'name': Option(_link_name, missing='is missing: give the link a unique name (every key derived for the '
                                       'link depends on it)'),
    'provider': Option(None, missing='is missing: set `provider: kernel` or `provider: wpa_supplicant`'),
    'ends': Option(None, missing='is missing: list the link\'s ends, each with host and interface '
                                 '(two for a point-to-point link, more for a segment)'),
    'generation': Option(_integer(1, U32_MAX), 1),
    'cipher': Option(_choice(CIPHERS), 'gcm-aes-128'),
    'port': Option(_integer(1, 65535), 1),
    'encrypt': Option(_boolean, True),
    # Its upper limit depends on the SecTAG and ICV lengths: a link rule checks it.
    'mtu': Option(_integer(MTU_MIN, 65535), None),
    'macsec_ifname': Option(ifname_problem, None),
    'strict_parent': Option(_boolean, False),
    'replay_protect': Option(_boolean, True),
    'replay_window': Option(_integer(0, U32_MAX), 0),
    'ipsec': Option(None, None),
    # Shared with wpa_supplicant where it can honour the value (WPA_SUPPLICANT_CAPABILITIES).
    'validate': Option(_choice(('strict', 'check', 'disabled')), 'strict'),
    'icv_len': Option(_integer(8, 16), 16),
    'offload': Option(_choice(('off', 'phy', 'mac')), 'off'),
    'send_sci': Option(_boolean, True, KERNEL_ONLY),
    'salt': Option(_hex_digits((24,), '24 hex digits (the 12-byte XPN salt)'), None, KERNEL_ONLY, True),
    'mode': Option(_choice(('psk', 'eap')), 'psk', WPA_ONLY),
    'cak': Option(_hex_digits((32, 64), '32 or 64 hex digits (a 128-bit or 256-bit CAK)'), None, WPA_ONLY, True),
    'ckn': Option(_hex_digits(range(2, 65, 2), '2 to 64 hex digits, an even count (1 to 32 bytes)'),
                  None, WPA_ONLY, True),
    'radius': Option(None, None, WPA_ONLY),
}

END_OPTIONS = {
    'host': Option(_nonempty_text, missing='is missing: give the end\'s host (its inventory_hostname)'),
    'interface': Option(ifname_problem, missing='is missing: give the end\'s parent NIC, like eth1'),
    'address': Option(_address),
    'mac': Option(mac_problem),
    'port': Option(_integer(1, 65535)),  # default: the link's port
    'underlay': Option(_ip_address),
    # The length that the link's cipher wants is a link rule; this refuses anything that is no key at all.
    'sak': Option(_hex_digits((32, 64), '32 hex digits (gcm-aes-128, gcm-aes-xpn-128) or 64 hex digits '
                                        '(gcm-aes-256, gcm-aes-xpn-256)'), None, KERNEL_ONLY, True),
    'key_id': Option(_hex_digits(range(1, 33), '1 to 32 hex digits (a key id is up to 16 bytes)'),
                     None, KERNEL_ONLY),
    'ssci': Option(_integer(1, U32_MAX), None, KERNEL_ONLY),
    'mka_priority': Option(_integer(0, 255), None, WPA_ONLY),
    'eap_role': Option(_choice(('supplicant', 'authenticator')), None, WPA_ONLY),
}

IPSEC_OPTIONS = {
    'layering': Option(_choice(LAYERINGS), 'ipsec_over_macsec'),
    'auth': Option(_choice(('pubkey', 'psk')), 'pubkey'),
    # Seconds. strongSwan rekeys make-before-break: the new SA is in place before the old one goes.
    'rekey_time': Option(_integer(10, 7 * 86400), 3600),
    'ike_rekey_time': Option(_integer(10, 7 * 86400), 14400),
    'dpd_delay': Option(_integer(0, 3600), 30),
    # The MTU of the routed path between the underlay addresses (macsec_over_ipsec): the tunnel's MTU is this
    # less the outer IP header, GRE, ESP and the inner Ethernet header.
    'underlay_mtu': Option(_integer(IPV6_MTU_MIN, 65535), 1500),
}

RADIUS_OPTIONS = {
    'host': Option(_nonempty_text, missing='is missing: give the RADIUS server\'s address or name'),
    'port': Option(_integer(1, 65535), RADIUS_DEFAULT_PORT),
    # The inventory host that runs FreeRADIUS (role l2sec.macsec.freeradius); none for an outside server.
    'server_host': Option(_nonempty_text, None),
}

NESTED_OPTIONS = {'ipsec': IPSEC_OPTIONS, 'radius': RADIUS_OPTIONS}
SECRET_LINK_OPTIONS = frozenset(name for name, option in LINK_OPTIONS.items() if option.secret)
SECRET_END_OPTIONS = frozenset(name for name, option in END_OPTIONS.items() if option.secret)
# What a peer needs to know of an end besides where it is.
END_RECORD_OPTIONS = ('sak', 'key_id', 'ssci', 'mka_priority', 'eap_role', 'underlay')

PROVIDER_ROLES = {
    KERNEL: 'static SAKs installed over netlink',
    WPA_SUPPLICANT: 'MKA: wpa_supplicant negotiates the SAKs and the SecY',
}


def _provider_entry(name, available):
    return {
        'available': available,
        'summary': PROVIDER_ROLES[name],
        'link_options': sorted(key for key, option in LINK_OPTIONS.items() if name in option.providers),
        'end_options': sorted(key for key, option in END_OPTIONS.items() if name in option.providers),
    }


# The providers and what they accept. `available` flips when a provider's role lands in the collection.
PROVIDERS = {
    KERNEL: _provider_entry(KERNEL, available=True),
    WPA_SUPPLICANT: _provider_entry(WPA_SUPPLICANT, available=True),
}


# ---------------------------------------------------------------------------------------------------------------
# Derived names.

def sanitize_link_name(name):
    """The link name as it appears in a derived interface name: lowercase, '.' and other characters as '-'."""
    return re.sub(r'[^a-z0-9_-]', '-', name.lower())


def derive_macsec_ifname(name):
    """`ms` + the sanitized link name; when that is over 15 bytes, a prefix of it plus a hash of the full name.

    Deterministic, so every run and every host agrees; the hash keeps two long names with the same beginning
    apart (35 bits: a clash on one host is still caught, and the fix is an explicit `macsec_ifname`).
    """
    sanitized = sanitize_link_name(name)
    candidate = DERIVED_IFNAME_PREFIX + sanitized
    if len(candidate) <= IFNAME_MAX_BYTES:
        return candidate
    digest = base64.b32encode(hashlib.sha256(name.encode('utf-8')).digest()).decode('ascii').lower()
    return DERIVED_IFNAME_PREFIX + sanitized[:6] + digest[:7]


def sci(mac, port):
    """The SCI: the 6-byte MAC then the 2-byte port, as 16 lowercase hex digits."""
    return '%s%04x' % (mac.replace(':', '').lower(), port)


# macsec_over_ipsec: what carrying an Ethernet frame in GRE inside ESP (transport mode, AES-GCM) costs.
GRE_BYTES = 4  # GRE header without key, checksum or sequence number
IP6_ENCAP_LIMIT_BYTES = 8  # the destination option ip6gretap adds by default
ESP_GCM_MAX_BYTES = 37  # SPI 4 + sequence 4 + IV 8 + padding up to 3 + pad length 1 + next header 1 + ICV 16
ETHERNET_HEADER = 14
TUNNEL_MAC_PREFIX = '02'  # locally administered, unicast


def tunnel_mtu(underlay_mtu, ipv6=False):
    """The MTU of a GRETAP tunnel whose packets, inside ESP, still fit the underlay's MTU unfragmented."""
    outer = 40 + IP6_ENCAP_LIMIT_BYTES if ipv6 else 20
    return underlay_mtu - outer - ESP_GCM_MAX_BYTES - GRE_BYTES - ETHERNET_HEADER


def derive_tunnel_mac(link_name, host):
    """The MAC of an end's tunnel (macsec_over_ipsec), hence its SCI: stable across runs and reboots, and
    locally administered, so it never collides with a NIC's burned-in address."""
    digest = hashlib.sha256(('l2sec-macsec tunnel mac|%s|%s' % (link_name, host)).encode('utf-8')).hexdigest()
    return ':'.join([TUNNEL_MAC_PREFIX] + [digest[index:index + 2] for index in range(0, 10, 2)])


def is_tunnel_link(ipsec):
    """Whether a link's end `interface` is a GRETAP tunnel that the collection makes (macsec_over_ipsec)."""
    return isinstance(ipsec, Mapping) and ipsec.get('layering') == 'macsec_over_ipsec'


def macsec_overhead(send_sci=True, icv_len=16):
    """Bytes MACsec adds to each frame: the SecTAG (16 with an SCI, 8 without) and the ICV."""
    return (SECTAG_WITH_SCI if send_sci else SECTAG_WITHOUT_SCI) + icv_len


# ---------------------------------------------------------------------------------------------------------------
# Parsing: one small object per link and end, holding the values that passed their own checks.

class _End:
    def __init__(self, link, index, raw):
        self.link = link
        self.index = index
        self.raw = raw
        host = raw.get('host') if isinstance(raw, Mapping) else None
        self.host = host if _nonempty_text(host) is None else None
        label = ' (%s)' % self.host if self.host is not None else ''
        self.path = '%s.ends[%d]%s' % (link.path, index, label)
        self.values = {}

    @property
    def interface(self):
        value = self.values.get('interface')
        return None if value is _BAD else value

    def value(self, name):
        """The valid given value, the link's value for `port`, _BAD, or None."""
        if name in self.values:
            return self.values[name]
        return self.link.value('port') if name == 'port' else None


class _Link:
    def __init__(self, index, raw, name, name_alike):
        self.index = index
        self.raw = raw
        self.name = name  # None unless valid and unique: paths then use the index
        self.name_alike = name_alike  # refused as looking like another's name: no derived-name clashes then
        self.path = 'macsec_links[%s]' % (name if name is not None else index)
        self.provider = None
        self.values = {}
        self.ends = []

    def value(self, name):
        if name in self.values:
            return self.values[name]
        return LINK_OPTIONS[name].default

    def macsec_ifname(self):
        value = self.values.get('macsec_ifname')
        if value is _BAD:
            return None
        if value is not None:
            return value
        return derive_macsec_ifname(self.name) if self.name is not None and not self.name_alike else None


def _known(*values):
    return all(value is not _BAD for value in values)


def _unknown_option_message(key, table, where):
    close = difflib.get_close_matches(str(key), list(table), n=1, cutoff=0.6)
    hint = 'did you mean `%s`?' % close[0] if close else 'the options are: %s' % ', '.join(sorted(table))
    return ('is not an option of %s; %s (unknown options are refused so that a typo cannot silently weaken '
            'a link)' % (where, hint))


def _wrong_provider_message(owner, provider):
    if owner == KERNEL:
        return ('belongs to the kernel provider (%s), not to wpa_supplicant, whose MKA negotiates it: remove '
                'it, or use `provider: kernel`' % PROVIDER_ROLES[KERNEL])
    return ('belongs to the wpa_supplicant provider (MKA), not to %s: remove it, or use '
            '`provider: wpa_supplicant`' % provider)


def _parse_options(path, raw, table, where, provider, values, errors, skip=(), fictions=None):
    """Check each given option against the table; store valid values, _BAD for the others.

    fictions: unknown options that deserve their own message (what people wrongly believe exists).
    """
    for key, value in raw.items():
        if key in skip:
            continue
        option = table.get(key)
        key_path = '%s.%s' % (path, key)
        if option is None:
            if fictions and key in fictions:
                errors.append(ValidationError(key_path, fictions[key]))
            else:
                errors.append(ValidationError(key_path, _unknown_option_message(key, table, where)))
            continue
        if provider is not None and provider not in option.providers:
            owner = KERNEL if KERNEL in option.providers else WPA_SUPPLICANT
            errors.append(ValidationError(key_path, _wrong_provider_message(owner, provider)))
            values[key] = _BAD
            continue
        message = option.check(value) if option.check is not None else None
        if message is not None:
            errors.append(ValidationError(key_path, message))
            values[key] = _BAD
            continue
        values[key] = value
    for key, option in table.items():
        if option.missing is not None and key not in raw and key not in skip:
            errors.append(ValidationError('%s.%s' % (path, key), option.missing))


def _parse_nested(path, key, raw, values, errors):
    """`ipsec` and `radius`: a mapping checked against its own table; its defaults filled in."""
    value = raw.get(key)
    key_path = '%s.%s' % (path, key)
    if key == 'ipsec' and value is None:
        values[key] = None
        return
    if not isinstance(value, Mapping):
        example = ('{layering: ipsec_over_macsec, auth: pubkey}' if key == 'ipsec'
                   else '{host: radius.example.org, port: 1812}')
        errors.append(ValidationError(key_path, 'must be a mapping like %s, not %s' % (example, _kind(value))))
        values[key] = _BAD
        return
    table = NESTED_OPTIONS[key]
    nested = {}
    fictions = dict.fromkeys(SWANCTL_MACSEC_FICTIONS, SWANCTL_MACSEC_MESSAGE) if key == 'ipsec' else None
    _parse_options(key_path, value, table, '`%s`' % key, None, nested, errors, fictions=fictions)
    for name, option in table.items():
        nested.setdefault(name, option.default)
    values[key] = nested


def _parse_link(index, raw, names, sanitized_names, errors):
    """Check one link on its own (its options, its ends, its rules); return the parsed _Link or None."""
    if not isinstance(raw, Mapping):
        errors.append(ValidationError('macsec_links[%d]' % index,
                                      'must be a mapping with name, provider and ends, not %s' % _kind(raw)))
        return None
    name, name_alike = _link_name_of(index, raw, names, sanitized_names, errors)
    link = _Link(index, raw, name, name_alike)
    _parse_provider(link, errors)
    _parse_options(link.path, raw, LINK_OPTIONS, 'a link', link.provider, link.values, errors,
                   skip=('name', 'provider', 'ends') + tuple(NESTED_OPTIONS))
    for key in NESTED_OPTIONS:
        if key in raw:
            if link.provider is not None and link.provider not in LINK_OPTIONS[key].providers:
                errors.append(ValidationError('%s.%s' % (link.path, key),
                                              _wrong_provider_message(WPA_SUPPLICANT, link.provider)))
                link.values[key] = _BAD
            else:
                _parse_nested(link.path, key, raw, link.values, errors)
    _parse_ends(link, errors)
    for rule in LINK_RULES:
        errors.extend(rule(link))
    return link


def _link_name_of(index, raw, names, sanitized_names, errors):
    """(name, looks alike) when the name is valid and unique (paths then use it), else (None, False)."""
    name = raw.get('name', _MISSING)
    path = 'macsec_links[%d].name' % index
    if name is _MISSING:
        errors.append(ValidationError(path, LINK_OPTIONS['name'].missing))
        return None, False
    message = _link_name(name)
    if message is not None:
        errors.append(ValidationError(path, message))
        return None, False
    if name in names:
        errors.append(ValidationError(path, 'is %s, already the name of macsec_links[%d]: give every link a '
                                            'unique name' % (_show(name), names[name])))
        return None, False
    names[name] = index
    # Interface names are lowercase with '.' as '-': names that differ only there would look alike on hosts.
    sanitized = sanitize_link_name(name)
    other = sanitized_names.setdefault(sanitized, name)
    if other != name:
        errors.append(ValidationError('macsec_links[%s].name' % name, (
            'differs from the name of macsec_links[%s] only in case or in \'.\' against \'-\' (both become %s '
            'in interface names): rename one of the links') % (other, sanitized)))
        return name, True
    return name, False


def _parse_provider(link, errors):
    provider = link.raw.get('provider', _MISSING)
    path = link.path + '.provider'
    if provider is _MISSING:
        errors.append(ValidationError(path, LINK_OPTIONS['provider'].missing))
    elif not isinstance(provider, str) or provider not in PROVIDERS:
        close = difflib.get_close_matches(str(provider), list(PROVIDERS), n=1, cutoff=0.6)
        hint = ' (did you mean `%s`?)' % close[0] if close else ''
        errors.append(ValidationError(path, 'is %s, not a provider%s: use one of %s' % (
            _show(provider), hint, _choices(PROVIDERS))))
    else:
        link.provider = provider


def _parse_ends(link, errors):
    raw_ends = link.raw.get('ends', _MISSING)
    path = link.path + '.ends'
    if raw_ends is _MISSING:
        errors.append(ValidationError(path, LINK_OPTIONS['ends'].missing))
        return
    if not isinstance(raw_ends, (list, tuple)):
        errors.append(ValidationError(path, 'must be a list of ends ({host, interface} mappings), not %s'
                                      % _kind(raw_ends)))
        return
    hosts = {}
    for index, raw in enumerate(raw_ends):
        end = _End(link, index, raw)
        if not isinstance(raw, Mapping):
            errors.append(ValidationError(end.path, 'must be a mapping with host and interface, not %s'
                                          % _kind(raw)))
            continue
        _parse_options(end.path, raw, END_OPTIONS, 'an end', link.provider, end.values, errors)
        if end.host is not None:
            if end.host in hosts:
                errors.append(ValidationError(end.path + '.host', (
                    'is already ends[%d] of this link: the ends of a link are distinct hosts (a host joins a '
                    'link or segment through one interface); fix the host or remove the end') % hosts[end.host]))
            else:
                hosts[end.host] = index
        link.ends.append(end)
    if len(raw_ends) < 2:
        errors.append(ValidationError(path, 'has %d end%s: a link needs at least two ends (two for a '
                                            'point-to-point link, more for a segment)'
                                      % (len(raw_ends), '' if len(raw_ends) == 1 else 's')))


# ---------------------------------------------------------------------------------------------------------------
# Link rules: what involves several options of one link. Each yields ValidationErrors.

def _rule_replay(link):
    window, protect = link.value('replay_window'), link.value('replay_protect')
    if _known(window, protect) and window > 0 and protect is False:
        yield ValidationError(link.path + '.replay_window', (
            'is %d but replay_protect is false, so the window would be ignored: set `replay_protect: true` or '
            'remove replay_window') % window)


def _link_overhead(link):
    """The bytes MACsec adds to each frame of the link; None while send_sci or icv_len is invalid."""
    send_sci = link.value('send_sci') if link.provider == KERNEL else True
    icv_len = link.value('icv_len')
    if not _known(send_sci, icv_len):
        return None
    return macsec_overhead(send_sci, icv_len)


def _rule_mtu(link):
    mtu = link.values.get('mtu')
    overhead = _link_overhead(link)
    if mtu is None or mtu is _BAD or overhead is None:
        return
    icv_len = link.value('icv_len')
    if mtu > 65535 - overhead:
        yield ValidationError(link.path + '.mtu', (
            'is %d, but MACsec adds %d bytes (SecTAG %d, ICV %d) to each frame and a frame carries at most 65535: '
            'use at most %d (the parent NIC\'s MTU must also be at least mtu + %d)') % (
            mtu, overhead, overhead - icv_len, icv_len, 65535 - overhead, overhead))
    if mtu < IPV6_MTU_MIN and any(_is_ipv6(end.values.get('address')) for end in link.ends):
        yield ValidationError(link.path + '.mtu', 'is %d, below the 1280 bytes IPv6 needs, and an end has an IPv6 '
                                                  'address: use at least 1280' % mtu)


def _is_ipv6(address):
    return isinstance(address, str) and ':' in address


def _rule_explicit_keys(link):
    if link.provider != KERNEL:
        return
    cipher = link.value('cipher')
    with_sak = [end for end in link.ends if 'sak' in end.values]
    if with_sak and len(with_sak) < len(link.ends):
        for end in link.ends:
            if 'sak' not in end.values:
                yield ValidationError(end.path + '.sak', (
                    'is missing while ends[%d] gives one: give every end of the link a sak, or none (then the '
                    'keys derive from macsec_master_secret)') % with_sak[0].index)
    for end in link.ends:
        if 'key_id' in end.values and 'sak' not in end.values:
            yield ValidationError(end.path + '.key_id', 'only goes with an explicit sak on the same end (derived '
                                                        'keys get their key id from the derivation): remove it')
        sak = end.values.get('sak')
        if sak not in (None, _BAD) and cipher is not _BAD and len(sak) != SAK_HEX_DIGITS[cipher]:
            yield ValidationError(end.path + '.sak', (
                'is malformed for cipher %s: gcm-aes-128 and gcm-aes-xpn-128 want 32 hex digits (16 bytes), '
                'gcm-aes-256 and gcm-aes-xpn-256 want 64 hex digits (32 bytes)') % cipher)
    if cipher is not _BAD:
        yield from _xpn_parameters(link, cipher, bool(with_sak))


def _xpn_parameters(link, cipher, explicit):
    """XPN needs a salt and an SSCI per end; with explicit keys they are explicit too, else derived."""
    ssci_ends = [end for end in link.ends if 'ssci' in end.values]
    if cipher not in XPN_CIPHERS:
        why = ('only applies to the XPN ciphers (gcm-aes-xpn-128, gcm-aes-xpn-256); this link\'s cipher is %s: '
               'remove it' % cipher)
        if 'salt' in link.values:
            yield ValidationError(link.path + '.salt', why)
        for end in ssci_ends:
            yield ValidationError(end.path + '.ssci', why)
        return
    if not explicit:
        why = ('only goes with explicit keys (ends[].sak); with derived keys the salt and SSCIs are derived '
               'too: remove it, or give every end a sak')
        if 'salt' in link.values:
            yield ValidationError(link.path + '.salt', why)
        for end in ssci_ends:
            yield ValidationError(end.path + '.ssci', why)
        return
    if 'salt' not in link.values:
        yield ValidationError(link.path + '.salt', 'is missing: %s with explicit keys needs the link\'s salt '
                                                   '(24 hex digits, 12 bytes)' % cipher)
    seen = {}
    for end in link.ends:
        ssci = end.values.get('ssci')
        if ssci is None:
            yield ValidationError(end.path + '.ssci', 'is missing: %s with explicit keys needs each end\'s SSCI '
                                                      '(an integer from 1 to 4294967295, distinct in the link)'
                                  % cipher)
        elif ssci is not _BAD and ssci in seen:
            yield ValidationError(end.path + '.ssci', 'is %d, already the SSCI of ends[%d]: the SSCIs of a link '
                                                      'must be distinct (they are part of the nonce)'
                                  % (ssci, seen[ssci]))
        elif ssci is not _BAD:
            seen[ssci] = end.index


def _rule_mka(link):
    if link.provider != WPA_SUPPLICANT:
        return
    mode = link.value('mode')
    if mode == 'eap':
        yield from _mka_eap(link)
    elif mode == 'psk':
        yield from _mka_psk(link)


def _mka_psk(link):
    why = 'only applies to `mode: eap`: remove it, or set `mode: eap`'
    if 'radius' in link.values:
        yield ValidationError(link.path + '.radius', why)
    for end in link.ends:
        if 'eap_role' in end.values:
            yield ValidationError(end.path + '.eap_role', why)
    for given, lacking in (('cak', 'ckn'), ('ckn', 'cak')):
        if given in link.values and lacking not in link.values:
            yield ValidationError('%s.%s' % (link.path, lacking), 'is missing while %s is given: cak and ckn go '
                                                                  'together, give both or neither (then they '
                                                                  'derive from macsec_master_secret)' % given)


def _mka_eap(link):
    for key in ('cak', 'ckn'):
        if key in link.values:
            yield ValidationError('%s.%s' % (link.path, key), 'is refused with `mode: eap`, where the CAK and CKN '
                                                              'come from the EAP session: remove it, or use '
                                                              '`mode: psk`')
    if 'radius' not in link.values:
        yield ValidationError(link.path + '.radius', 'is missing: `mode: eap` needs the RADIUS server, like '
                                                     '{host: radius.example.org, port: 1812}')
    roles = set()
    for end in link.ends:
        role = end.values.get('eap_role')
        if role is None:
            yield ValidationError(end.path + '.eap_role', 'is missing: with `mode: eap` each end is a supplicant '
                                                          'or an authenticator')
        elif role is not _BAD:
            roles.add(role)
    lacking = [role for role in ('authenticator', 'supplicant') if role not in roles]
    # Only when every end has a valid role: a missing one may be the authenticator or the supplicant.
    if lacking and link.ends and all(end.values.get('eap_role') not in (None, _BAD) for end in link.ends):
        yield ValidationError(link.path + '.ends', (
            'has no %s: `mode: eap` needs at least one end with `eap_role: authenticator` and one with '
            '`eap_role: supplicant`') % ' and no '.join(lacking))


def _rule_ipsec(link):
    ipsec = link.values.get('ipsec')
    if ipsec is _BAD:
        return
    layering = ipsec['layering'] if ipsec else None
    if layering is _BAD:
        return
    underlays = {}
    for end in link.ends:
        underlay = end.values.get('underlay')
        if layering == 'macsec_over_ipsec':
            if underlay is None:
                yield ValidationError(end.path + '.underlay', 'is missing: with `ipsec.layering: '
                                                              'macsec_over_ipsec` each end gives the routed '
                                                              'address that the tunnel runs between')
            elif underlay is not _BAD:
                ip = ipaddress.ip_address(underlay)
                if ip in underlays:
                    yield ValidationError(end.path + '.underlay', 'is %s, already the underlay of ends[%d]: each '
                                                                  'end has its own' % (underlay, underlays[ip]))
                underlays.setdefault(ip, end.index)
        elif underlay is not None:
            yield ValidationError(end.path + '.underlay', 'only applies to `ipsec.layering: macsec_over_ipsec`: '
                                                          'remove it, or set that layering')
        elif layering == 'ipsec_over_macsec' and end.values.get('address') is None:
            yield ValidationError(end.path + '.address', 'is missing: with `ipsec.layering: ipsec_over_macsec` IKE '
                                                         'and ESP run between the ends\' addresses on the macsec '
                                                         'interface; give each end an address')
    if layering == 'macsec_over_ipsec':
        if len(link.ends) != 2:
            yield ValidationError(link.path + '.ends', 'has %d ends, but `ipsec.layering: macsec_over_ipsec` runs a '
                                                       'point-to-point GRETAP tunnel: give exactly two ends (one '
                                                       'link per pair of hosts)' % len(link.ends))
        if len({ip.version for ip in underlays}) > 1:
            yield ValidationError(link.path + '.ends', 'mix IPv4 and IPv6 underlays: a tunnel runs between two '
                                                       'addresses of one family')
        yield from _rule_tunnel_mtu(link, ipsec, underlays)


def _rule_tunnel_mtu(link, ipsec, underlays):
    underlay_mtu, mtu, overhead = ipsec.get('underlay_mtu'), link.values.get('mtu'), _link_overhead(link)
    if not underlays or not _known(underlay_mtu) or mtu is None or mtu is _BAD or overhead is None:
        return
    room = tunnel_mtu(underlay_mtu, any(ip.version == 6 for ip in underlays)) - overhead
    if mtu > room:
        yield ValidationError(link.path + '.mtu', (
            'is %d, but over an underlay MTU of %d the tunnel leaves %d bytes for the macsec interface (outer IP, '
            'ESP, GRE and Ethernet headers, then MACsec): use at most %d, remove mtu, or raise ipsec.underlay_mtu '
            'if the routed path allows it') % (mtu, underlay_mtu, room, room))


def _rule_addresses(link):
    seen = {}
    for end in link.ends:
        address = end.values.get('address')
        if address is None or address is _BAD:
            continue
        ip = _ip_interface(address).ip
        if ip in seen:
            yield ValidationError(end.path + '.address', 'is %s, the same IP as ends[%d]: give each end its own '
                                                         'address' % (_show(address), seen[ip]))
        else:
            seen[ip] = end.index


def _rule_wpa_supplicant_honours(link, capabilities, version):
    if link.provider != WPA_SUPPLICANT:
        return
    where = 'wpa_supplicant %s (%s)' % (version, WPA_SUPPLICANT_DEBIAN.get(version, 'this release'))
    places = [(link.path, link.values)] + [(end.path, end.values) for end in link.ends]
    for path, values in places:
        for name, (allowed, reason) in capabilities.items():
            value = values.get(name)
            if value is None or value is _BAD or value in allowed:
                continue
            yield ValidationError('%s.%s' % (path, name), (
                'is %s, which %s cannot honour: %s; remove it, or use `provider: kernel`') % (
                _show(value), where, reason))


def _rule_revoked_hosts(link, revoked):
    """A host whose certificates are revoked cannot be an end that authenticates with one: an IKE end of a link
    with `ipsec.auth: pubkey`, an EAP-TLS supplicant, or the link's RADIUS server. Refused before anything runs,
    rather than left to fail its authentication on the hosts."""
    if not revoked:
        return
    fix = ('take the end out of the link (the whole link when it has two ends), or take %s off pki_revoked_hosts '
           '(the next run issues it a new certificate)')
    ipsec = link.values.get('ipsec')
    if isinstance(ipsec, Mapping) and ipsec.get('auth', 'pubkey') == 'pubkey':
        for end in link.ends:
            if end.host in revoked:
                yield ValidationError(end.path + '.host', (
                    'is %s, whose certificates pki_revoked_hosts revokes: this link\'s IKE authenticates with '
                    'certificates (ipsec.auth pubkey), so the end cannot: ' + fix) % (end.host, end.host))
    if link.provider != WPA_SUPPLICANT or link.value('mode') != 'eap':
        return
    for end in link.ends:
        if end.host in revoked and end.values.get('eap_role') == 'supplicant':
            yield ValidationError(end.path + '.host', (
                'is %s, whose certificates pki_revoked_hosts revokes: an EAP-TLS supplicant authenticates with '
                'its certificate, so it cannot: ' + fix) % (end.host, end.host))
    radius = link.values.get('radius')
    server = radius.get('server_host') if isinstance(radius, Mapping) else None
    if server in revoked:
        yield ValidationError(link.path + '.radius.server_host', (
            'is %s, whose certificates pki_revoked_hosts revokes: the supplicants would refuse its server '
            'certificate; name another RADIUS server, or take %s off pki_revoked_hosts') % (server, server))


LINK_RULES = (_rule_replay, _rule_mtu, _rule_explicit_keys, _rule_mka, _rule_ipsec, _rule_addresses)


# ---------------------------------------------------------------------------------------------------------------
# Checks across links: interfaces, interface names, SCIs, hosts outside the inventory.

def _check_across(links, inventory_hosts, managed_hosts, errors, check_sci):
    """inventory_hosts: None to skip the check of ends outside it; managed_hosts: whose interface names count."""
    parents = {}
    for link in links:
        if inventory_hosts is not None:
            errors.extend(_radius_server_host(link, inventory_hosts))
        for end in link.ends:
            if end.host is None:
                continue
            if inventory_hosts is not None:
                errors.extend(_unmanaged_end(end, inventory_hosts))
            if end.interface is None:
                continue
            key = (end.host, end.interface)
            if key in parents:
                errors.append(ValidationError(end.path + '.interface', (
                    'is %s of %s, already used by %s: an interface carries at most one link; fix the interface, '
                    'or describe the two as one segment') % (end.interface, end.host, parents[key])))
            else:
                parents[key] = end.path
    errors.extend(_ifname_clashes(links, managed_hosts, parents))
    if check_sci:
        owners = {}
        for link in links:
            for end in link.ends:
                mac, port = end.values.get('mac'), end.value('port')
                if mac is not None and _known(mac, port):
                    errors.extend(_sci_clash(end, mac, port, owners))


def _unmanaged_end(end, inventory_hosts):
    if end.host in inventory_hosts or 'mac' in end.values:
        return
    close = difflib.get_close_matches(end.host, sorted(inventory_hosts), n=1, cutoff=0.8)
    hint = ' (did you mean %s?)' % close[0] if close else ''
    yield ValidationError(end.path + '.host', (
        'is not an inventory host%s and the end gives no mac: fix the host, or give the end\'s mac for an end that '
        'this run does not manage (a switch, a host outside the inventory)') % hint)


def _radius_server_host(link, inventory_hosts):
    """`radius.server_host` names the inventory host that runs FreeRADIUS for the link: it must be one."""
    radius = link.values.get('radius')
    server = radius.get('server_host') if isinstance(radius, Mapping) else None
    if server is None or server is _BAD or server in inventory_hosts:
        return
    close = difflib.get_close_matches(server, sorted(inventory_hosts), n=1, cutoff=0.8)
    hint = ' (did you mean %s?)' % close[0] if close else ''
    yield ValidationError(link.path + '.radius.server_host', (
        'is %s, not an inventory host%s: name the inventory host that runs FreeRADIUS for this link (role '
        'l2sec.macsec.freeradius), or remove server_host when the RADIUS server is outside the inventory') % (
        _show(server), hint))


def _ifname_clashes(links, managed_hosts, parents):
    """On one host, two links may not share a macsec interface name, nor take a parent NIC's name."""
    owners = {}
    for link in links:
        ifname = link.macsec_ifname()
        if ifname is None:
            continue
        derived = '' if 'macsec_ifname' in link.values else ' (derived from the name)'
        clashes = set()  # one error per other link, however many hosts the two share
        for end in link.ends:
            if end.host is None or end.host not in managed_hosts:
                continue
            key = (end.host, ifname)
            if key in parents:
                yield ValidationError(link.path + '.macsec_ifname', (
                    'is %s%s, the name of a parent NIC of %s (%s): set another macsec_ifname') % (
                    ifname, derived, end.host, parents[key]))
            elif key in owners:
                if owners[key] not in clashes and owners[key] != link.path:
                    clashes.add(owners[key])
                    yield ValidationError(link.path + '.macsec_ifname', (
                        'is %s%s, also the macsec interface of %s on %s: set a distinct macsec_ifname on one of '
                        'them') % (ifname, derived, owners[key], end.host))
            else:
                owners[key] = link.path


def _sci_clash(end, mac, port, owners):
    value = sci(mac, port)
    if value in owners:
        yield ValidationError(end.path + '.mac', (
            'gives SCI %s (mac %s, port %d), already the SCI of %s: an SCI must be unique in the fleet (it is half '
            'of every AES-GCM nonce); give one of these ends, or its link, another `port`') % (
            value, mac.lower(), port, owners[value]))
    else:
        owners[value] = end.path


# ---------------------------------------------------------------------------------------------------------------
# The public API.

def _resolve_options(options):
    resolved = dict(DEFAULT_OPTIONS)
    if options:
        unknown = set(options) - set(DEFAULT_OPTIONS)
        if unknown:
            raise ValueError('unknown validation options: %s' % ', '.join(sorted(unknown)))
        resolved.update(options)
    if resolved['wpa_supplicant_version'] not in WPA_SUPPLICANT_CAPABILITIES:
        raise ValueError('wpa_supplicant_version must be one of %s' % ', '.join(WPA_SUPPLICANT_CAPABILITIES))
    return resolved


def _revoked_hosts(value):
    """(the revoked hosts, errors): pki_revoked_hosts must be a list of host names."""
    if isinstance(value, (list, tuple)) and all(_nonempty_text(host) is None for host in value):
        return frozenset(value), []
    return frozenset(), [ValidationError('pki_revoked_hosts', 'must be a list of inventory host names, not %s'
                                         % _show(value))]


def _check_all(links, inventory_hosts, managed_hosts, options, check_sci):
    """Every static error of `links`, plus the parsed links (for expand)."""
    if not isinstance(links, (list, tuple)):
        return [ValidationError('macsec_links', 'must be a list of links, not %s: see docs/topology.md'
                                % _kind(links))], []
    resolved = _resolve_options(options)
    version = resolved['wpa_supplicant_version']
    capabilities = WPA_SUPPLICANT_CAPABILITIES[version]
    revoked, errors = _revoked_hosts(resolved['revoked_hosts'])
    parsed, names, sanitized_names = [], {}, {}
    for index, raw in enumerate(links):
        link = _parse_link(index, raw, names, sanitized_names, errors)
        if link is not None:
            errors.extend(_rule_wpa_supplicant_honours(link, capabilities, version))
            errors.extend(_rule_revoked_hosts(link, revoked))
            parsed.append(link)
    _check_across(parsed, inventory_hosts, managed_hosts, errors, check_sci)
    # In the order of the inventory: the errors found across links join those of their link (a stable sort).
    order = {'macsec_links[%d]' % index: index for index in range(len(links))}
    order.update((link.path, link.index) for link in parsed)
    errors.sort(key=lambda error: order.get(error.path.split(']', 1)[0] + ']', -1))
    return errors, parsed


def validate_links(links, inventory_hosts, options=None):
    """Every static error of `macsec_links`, checked before any host is contacted.

    inventory_hosts: the inventory's hosts (groups.all); an end whose host is not among them must give `mac`.
    options: {'wpa_supplicant_version': '2.10' (default, Debian 12) | '2.11'}, what wpa_supplicant can honour.
    Returns a list of ValidationError, empty when the topology is valid.
    """
    if not isinstance(inventory_hosts, (list, tuple, set, frozenset)):
        raise TypeError('inventory_hosts must be a list of host names, not %s' % _kind(inventory_hosts))
    hosts = frozenset(inventory_hosts)
    return _check_all(links, hosts, hosts, options, check_sci=True)[0]


def normalize_link(link):
    """A copy of a valid link with every default of its provider filled in and `macsec_ifname` derived.

    Options without a default (mtu, salt, cak, ckn, radius, ipsec) are present as null, so that roles need no
    `default()`. `ipsec` and `radius` get their own defaults. The ends are copied as given.
    """
    provider = link.get('provider')
    normalized = {'name': link.get('name'), 'provider': provider}
    for key, option in LINK_OPTIONS.items():
        if key in ('name', 'provider', 'ends') or provider not in option.providers:
            continue
        normalized[key] = link.get(key, option.default)
    for key, table in NESTED_OPTIONS.items():
        if normalized.get(key) is not None:
            nested = {name: option.default for name, option in table.items()}
            nested.update(normalized[key])
            normalized[key] = nested
    if not normalized.get('macsec_ifname'):
        normalized['macsec_ifname'] = derive_macsec_ifname(link['name'])
    normalized['ends'] = [dict(end) for end in link.get('ends', ())]
    return normalized


def redact_link(normalized):
    """A normalized link with key material replaced, for results and logs that must not carry secrets."""
    redacted = dict(normalized)
    for key in SECRET_LINK_OPTIONS:
        if redacted.get(key) is not None:
            redacted[key] = REDACTED
    redacted['ends'] = [
        {key: (REDACTED if key in SECRET_END_OPTIONS else value) for key, value in end.items()}
        for end in normalized['ends']
    ]
    return redacted


REDACTED = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


def has_explicit_keys(links):
    """True when any link gives key material (cak, ckn, salt, an end's sak): results then need no_log."""
    for link in links if isinstance(links, (list, tuple)) else ():
        if not isinstance(link, Mapping):
            continue
        if any(link.get(key) is not None for key in SECRET_LINK_OPTIONS):
            return True
        ends = link.get('ends')
        for end in ends if isinstance(ends, (list, tuple)) else ():
            if isinstance(end, Mapping) and any(end.get(key) is not None for key in SECRET_END_OPTIONS):
                return True
    return False


def check_providers_available(links):
    """An error for each link whose provider this release of the collection does not ship yet."""
    errors = []
    for index, link in enumerate(links if isinstance(links, (list, tuple)) else ()):
        if not isinstance(link, Mapping):
            continue
        provider = link.get('provider')
        entry = PROVIDERS.get(provider) if isinstance(provider, str) else None
        if entry is None or entry['available']:
            continue
        name = link.get('name')
        label = name if isinstance(name, str) and name else str(index)
        errors.append(ValidationError('macsec_links[%s].provider' % label, (
            "provider '%s' is not available yet in l2sec.macsec %s: this release validates the topology and runs "
            "preflight only; nothing was changed on any host. Keep the link and upgrade to a release that ships "
            "the %s provider") % (provider, COLLECTION_VERSION, provider)))
    return errors


def _reported_mac(interfaces, interface):
    """host_macs values are {ifname: mac} or, as preflight reports them, {ifname: {mac: ..., ...}}."""
    entry = interfaces.get(interface)
    if isinstance(entry, Mapping):
        entry = entry.get('mac')
    return entry


def _check_host_macs(host_macs):
    if not isinstance(host_macs, Mapping):
        raise TypeError('host_macs must be a mapping host -> {interface: mac}, not %s' % _kind(host_macs))
    for host, interfaces in host_macs.items():
        if not isinstance(interfaces, Mapping):
            raise TypeError('host_macs[%s] must be a mapping interface -> mac, not %s' % (host, _kind(interfaces)))


def _resolve_mac(end, host_macs):
    """The end's MAC (lowercase) and the errors that prevent knowing it."""
    given = end.values.get('mac')
    if is_tunnel_link(end.link.values.get('ipsec')):
        # The end's interface is the tunnel the collection makes: its MAC is ours to choose, not the host's to say.
        return (given or derive_tunnel_mac(end.link.name, end.host)).lower(), []
    interfaces = host_macs.get(end.host)
    if interfaces is None:
        if given is not None:
            return given.lower(), []
        return None, [ValidationError(end.path + '.mac', (
            'is unknown: %s is not managed in this run (left out by --limit, or it failed earlier) and the end '
            'gives no mac; include the host in the run, or give the end\'s mac') % end.host)]
    reported = _reported_mac(interfaces, end.interface)
    if end.interface not in interfaces:
        found = ', '.join(sorted(str(name) for name in interfaces)[:12]) or 'none'
        return None, [ValidationError(end.path + '.interface', (
            'is %s, but %s has no such parent NIC (preflight found: %s): fix the end\'s interface') % (
            end.interface, end.host, found))]
    if mac_problem(reported) is not None:
        return None, [ValidationError(end.path + '.interface', (
            'is %s, which %s reports without a usable MAC address (%s): MACsec needs an Ethernet NIC') % (
            end.interface, end.host, _show(reported)))]
    if given is not None and given.lower() != reported.lower():
        return None, [ValidationError(end.path + '.mac', (
            'is %s, but %s reports %s for %s: fix the end\'s mac, or remove it (a managed host\'s MAC is read '
            'from the host)') % (given.lower(), end.host, reported.lower(), end.interface))]
    return reported.lower(), []


def _end_record(end, mac, port):
    """What a host needs to know of an end, its own or a peer's: plain, JSON-serializable values."""
    record = {
        'host': end.host,
        'index': end.index,
        'interface': end.interface,
        'address': end.values.get('address'),
        'mac': mac,
        'port': port,
        'sci': sci(mac, port),
    }
    for key in END_RECORD_OPTIONS:
        if key in end.values:
            record[key] = end.values[key]
    return record


def expand(links, host_macs, options=None):
    """Each managed host's part of the topology, in O(links + ends); raises TopologyErrors listing all errors.

    host_macs: host -> {interface: mac} for the hosts managed in this run (read by preflight; a value may also be
    preflight's {mac: ...} mapping). An end's explicit `mac` is used for hosts not managed in this run and
    must match the host's MAC otherwise. The result maps every managed host to {'links': [...]}, one entry per
    link the host is an end of: {name, provider, options, end, peers}. Entries of one link share their
    `options` and end records: treat the result as read-only.
    """
    _check_host_macs(host_macs)
    # Hosts outside host_macs are checked below, where their MAC is needed: no inventory check here.
    errors, parsed = _check_all(links, None, frozenset(host_macs), options, check_sci=False)
    if errors:
        raise TopologyErrors(errors)
    parts = {host: {'links': []} for host in host_macs}
    owners = {}
    for link in parsed:
        records = []
        for end in link.ends:
            mac, mac_errors = _resolve_mac(end, host_macs)
            errors.extend(mac_errors)
            if mac is not None:
                port = end.value('port')
                errors.extend(_sci_clash(end, mac, port, owners))
                records.append(_end_record(end, mac, port))
        if errors:
            continue  # nothing will be returned: skip building parts, keep collecting errors
        _add_link_parts(parts, normalize_link(link.raw), records)
    if errors:
        raise TopologyErrors(errors)
    return parts


def with_retired_generations(links, retired_by_host):
    """The links, each with its effective generation: the inventory's, or one above the highest generation any of
    its ends' hosts retired (the key lifecycle: a link never goes back). `retired_by_host` is host -> {link name:
    highest retired generation} (preflight's `retired_generations`). Returns (links, {name: (inventory, effective)}
    for the links that moved). Links that are not well formed are left for validation to report."""
    if not isinstance(links, list):
        return links, {}
    result, moved = [], {}
    for link in links:
        name = link.get('name') if isinstance(link, Mapping) else None
        generation = link.get('generation', 1) if name else None
        if not isinstance(generation, int) or isinstance(generation, bool):
            result.append(link)
            continue
        retired = [(retired_by_host.get(end.get('host')) or {}).get(name)
                   for end in link.get('ends') or () if isinstance(end, Mapping)]
        effective = _generations.effective_generation(generation, [value for value in retired
                                                                   if isinstance(value, int)])
        if effective != generation:
            moved[name] = (generation, effective)
            link = dict(link, generation=effective)
        result.append(link)
    return result, moved


def _not_rotatable(link):
    """Why rotate.yml cannot move the link's keys by its generation, or None: keys given by the inventory (an end's
    `sak`, the link's `cak`), or an 802.1X link (its CAK comes from each EAP-TLS authentication, and the RADIUS
    secret its generation moves is not retired by the ends)."""
    ends = link.get('ends')
    if link.get('cak') is not None or any(
            isinstance(end, Mapping) and end.get('sak') is not None for end in ends if isinstance(ends, (list, tuple))):
        return 'has its keys in the inventory (sak or cak), which no generation changes: give it new keys instead'
    if link.get('mode') == 'eap':
        return ('is an 802.1X link (mode eap): its CAK is new at every EAP-TLS authentication; raise its generation '
                'in the inventory to change its RADIUS secret')
    return None


def rotation_errors(links, rotate):
    """What is wrong with rotate.yml's `rotate` (the names of links to take to their next generation now, or
    ['all']): a name that is no link, or a link whose keys the inventory gives (no generation moves them)."""
    if not rotate:
        return []
    if not isinstance(rotate, (list, tuple)) or not all(isinstance(name, str) for name in rotate):
        return [ValidationError('rotate', 'must be a list of link names, or [all], not %r' % (rotate,))]
    by_name = {link.get('name'): link for link in links if isinstance(link, Mapping)} if isinstance(links, list) else {}
    errors = []
    for name in rotate:
        if name == 'all':
            continue
        if name not in by_name:
            close = difflib.get_close_matches(name, [str(known) for known in by_name], n=1)
            errors.append(ValidationError('rotate', 'names no link %r%s: give names of macsec_links, or all' % (
                name, ' (did you mean %r?)' % close[0] if close else '')))
        else:
            reason = _not_rotatable(by_name[name])
            if reason:
                errors.append(ValidationError('rotate', 'link %r %s' % (name, reason)))
    return errors


def rotated(links, rotate):
    """The links named in `rotate` (every link whose keys derive from its generation, for 'all') one generation
    above the one they run (after with_retired_generations()): rotate.yml takes them to their next generation now,
    without an inventory change; their ends then retire the generation before, so later runs stay on the new one.
    Returns (links, {name: (before, after)})."""
    if not rotate or not isinstance(links, list):
        return links, {}
    every = 'all' in rotate
    result, moved = [], {}
    for link in links:
        name = link.get('name') if isinstance(link, Mapping) else None
        generation = link.get('generation', 1) if name else None
        if (name in rotate or (every and name)) and isinstance(generation, int) and not isinstance(generation, bool) \
                and not _not_rotatable(link):
            moved[name] = (generation, generation + 1)
            link = dict(link, generation=generation + 1)
        result.append(link)
    return result, moved


def tunnel_spec(entry):
    """The GRETAP tunnel under an end's SecY (macsec_over_ipsec), as macsec_secy's `tunnel` option; None for the
    other layerings. `entry` is one link of a host's plan part: {name, options, end, peers}."""
    ipsec = entry['options'].get('ipsec')
    if not is_tunnel_link(ipsec):
        return None
    end, peer = entry['end'], entry['peers'][0]
    ipv6 = ipaddress.ip_address(end['underlay']).version == 6
    return {'local': end['underlay'], 'remote': peer['underlay'], 'address': end['mac'],
            'mtu': tunnel_mtu(ipsec['underlay_mtu'], ipv6)}


def _add_link_parts(parts, normalized, records):
    options = {key: value for key, value in normalized.items() if key not in ('name', 'provider', 'ends')}
    for record in records:
        part = parts.get(record['host'])
        if part is None:
            continue  # an end this run does not manage: it is only a peer
        part['links'].append({
            'name': normalized['name'],
            'provider': normalized['provider'],
            'options': options,
            'end': record,
            'peers': [peer for peer in records if peer is not record],
        })
