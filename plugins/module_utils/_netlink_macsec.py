# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""MACsec over netlink, written on pyroute2's extension points (pyroute2 0.7 and 0.9).

pyroute2 knows neither the `macsec` link kind nor the generic-netlink `macsec` family. This file adds both:

- `macsec_data`, the IFLA_INFO_DATA of kind `macsec` (include/uapi/linux/if_link.h), registered by
  `register_link_kind()` so that `IPRoute().link('add', kind='macsec', link=..., **link_data(...))` builds it
  and link dumps decode it (`parse_link_data()` turns it into plain data);
- `macsecmsg` and `MacsecSocket`, a client of the genl family (include/uapi/linux/if_macsec.h,
  drivers/net/macsec.c): dump every SecY with its SCs and SAs, add/update/delete RX SCs, TX SAs and RX SAs.

Messages are built by pure functions (`rxsc_attrs`, `txsa_attrs`, `rxsa_attrs`, `offload_attrs`,
`build_message`) and dumps are read by `parse_secy()`, so both are unit-tested without a socket. Kernel
errors come back as `MacsecError` with a message meant for a person (`explain_error()`; for the errors of
`IPRoute().link()` on a macsec link, `link_error()`).

Proven on Linux 6.1 (Debian 12) with pyroute2 0.7.2 and 0.9.7 by tests/lab/netlink_proof.py, which also
holds what the kernel does: in-place changes (`change_link_data()`) take everything but the cipher, ICV
length, SCI and port; 6.1 neither reports nor changes the offload over rtnl (genl does: `set_offload()`);
a dump's PN is the next PN to send (TX SA) or the next one expected (RX SA); a missing RX SC or SA is
ENODEV, an AN that is taken EBUSY.

Byte order, as the kernel has it: an SCI is a u64 in network byte order (MAC then port); an SSCI is a
big-endian u32; a PN is a host-order u32, or u64 with XPN; a key id is 16 bytes, an XPN salt 12 bytes.
"""

from __future__ import annotations

import errno
import os
import re
import struct
import traceback

try:
    # IPRoute for the modules; not `from pyroute2`, whose namespace 0.7 fills from entry points.
    from pyroute2.iproute import IPRoute  # pylint: disable=unused-import
    from pyroute2.netlink import NLA_F_NESTED, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, genlmsg, nla
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.generic import GenericNetlinkSocket
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
except ImportError:  # pragma: no cover - reported by the modules through missing_required_lib('pyroute2')
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = traceback.format_exc()
    NLA_F_NESTED = 1 << 15
    NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
    genlmsg = nla = GenericNetlinkSocket = object
    ifinfmsg = IPRoute = None

    class NetlinkError(Exception):
        """Stand-in so that `except NetlinkError` still compiles without pyroute2."""

        def __init__(self, code, msg=None):
            super().__init__(code, msg)
            self.code = code
else:
    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None

# ---------------------------------------------------------------------------------------------------------------
# Constants (include/uapi/linux/if_macsec.h, include/uapi/linux/if_link.h)
# ---------------------------------------------------------------------------------------------------------------

MACSEC_GENL_NAME = 'macsec'
MACSEC_GENL_VERSION = 1
MACSEC_KEYID_LEN = 16
MACSEC_SALT_LEN = 12
MACSEC_NUM_AN = 4
KEY_LENGTHS = (16, 32)

(MACSEC_CMD_GET_TXSC, MACSEC_CMD_ADD_RXSC, MACSEC_CMD_DEL_RXSC, MACSEC_CMD_UPD_RXSC,
 MACSEC_CMD_ADD_TXSA, MACSEC_CMD_DEL_TXSA, MACSEC_CMD_UPD_TXSA,
 MACSEC_CMD_ADD_RXSA, MACSEC_CMD_DEL_RXSA, MACSEC_CMD_UPD_RXSA, MACSEC_CMD_UPD_OFFLOAD) = range(11)

COMMAND_NAMES = {
    MACSEC_CMD_GET_TXSC: 'dump the SecYs', MACSEC_CMD_ADD_RXSC: 'add the RX SC', MACSEC_CMD_DEL_RXSC: 'delete the RX SC',
    MACSEC_CMD_UPD_RXSC: 'update the RX SC', MACSEC_CMD_ADD_TXSA: 'add the TX SA', MACSEC_CMD_DEL_TXSA: 'delete the TX SA',
    MACSEC_CMD_UPD_TXSA: 'update the TX SA', MACSEC_CMD_ADD_RXSA: 'add the RX SA', MACSEC_CMD_DEL_RXSA: 'delete the RX SA',
    MACSEC_CMD_UPD_RXSA: 'update the RX SA', MACSEC_CMD_UPD_OFFLOAD: 'change the offload',
}

CIPHER_IDS = {
    'gcm-aes-128': 0x0080C20001000001,
    'gcm-aes-256': 0x0080C20001000002,
    'gcm-aes-xpn-128': 0x0080C20001000003,
    'gcm-aes-xpn-256': 0x0080C20001000004,
}
# What the kernel REPORTS for GCM-AES-128 (MACSEC_DEFAULT_CIPHER_ID); it accepts both ids on input.
LEGACY_GCM_AES_128_ID = 0x0080020001000001
XPN_CIPHERS = frozenset(('gcm-aes-xpn-128', 'gcm-aes-xpn-256'))

VALIDATION = {'disabled': 0, 'check': 1, 'strict': 2}
OFFLOAD = {'off': 0, 'phy': 1, 'mac': 2}

# What macsec_validate_attr() lets through (drivers/net/macsec.c): MACSEC_MIN_ICV_LEN..MACSEC_STD_ICV_LEN, and
# the largest replay window of an XPN cipher (IEEE 802.1AEbw-2013 10.7.8, MACSEC_XPN_MAX_REPLAY_WINDOW).
MIN_ICV_LEN = 8
MAX_ICV_LEN = 16
XPN_MAX_WINDOW = (1 << 30) - 1
# What macsec_changelink() refuses with EINVAL, even at the value the link has: these need a new link.
RECREATE_OPTIONS = ('cipher', 'icv_len', 'sci', 'port')


def key_length(cipher):
    """The SAK length in bytes (16 or 32) of a cipher name."""
    cipher_id(cipher)
    return 32 if cipher.endswith('256') else 16


def cipher_id(name):
    """The cipher-suite id (u64) of a cipher name like 'gcm-aes-128'."""
    try:
        return CIPHER_IDS[name]
    except KeyError:
        raise ValueError('unknown cipher %r: expected one of %s' % (name, ', '.join(CIPHER_IDS))) from None


def cipher_name(value):
    """The cipher name of a cipher-suite id as the kernel reports it (the legacy id is GCM-AES-128)."""
    if value == LEGACY_GCM_AES_128_ID:
        return 'gcm-aes-128'
    for name, known in CIPHER_IDS.items():
        if known == value:
            return name
    return '0x%016x' % value


def _name_of(table, value):
    for name, known in table.items():
        if known == value:
            return name
    return value


# ---------------------------------------------------------------------------------------------------------------
# SCI, keys: plain values in, checked, in the form netlink wants
# ---------------------------------------------------------------------------------------------------------------

_HEX_SEPARATORS = re.compile(r'[\s:.-]')


def make_sci(mac, port=1):
    """The SCI (an int, the u64 the kernel sees in network byte order) of a MAC address and a port."""
    digits = _HEX_SEPARATORS.sub('', mac)
    if not re.fullmatch(r'[0-9a-fA-F]{12}', digits):
        raise ValueError('not a MAC address: %r' % (mac,))
    if not 0 <= int(port) <= 0xffff:
        raise ValueError('port %r is not between 0 and 65535' % (port,))
    return int(digits, 16) << 16 | int(port)


def sci_int(sci):
    """An SCI given as int or as 16 hex digits (separators allowed) → int."""
    if isinstance(sci, bool):
        raise ValueError('not an SCI: %r' % (sci,))
    if isinstance(sci, int):
        value = sci
    else:
        digits = _HEX_SEPARATORS.sub('', str(sci))
        if not re.fullmatch(r'[0-9a-fA-F]{16}', digits):
            raise ValueError('not an SCI (16 hex digits: MAC and port): %r' % (sci,))
        value = int(digits, 16)
    if not 0 <= value < 1 << 64:
        raise ValueError('SCI %r does not fit in 64 bits' % (sci,))
    return value


def format_sci(value):
    """The SCI as 16 lowercase hex digits, the way `ip macsec show` prints it."""
    return '%016x' % value


def _as_bytes(value, what, lengths):
    if isinstance(value, str):
        digits = _HEX_SEPARATORS.sub('', value)
        try:
            value = bytes.fromhex(digits)
        except ValueError:
            raise ValueError('%s is not hex: give bytes or hex digits' % what) from None
    elif isinstance(value, (bytes, bytearray)):
        value = bytes(value)
    else:
        raise ValueError('%s must be bytes or hex digits, not %s' % (what, type(value).__name__))
    if len(value) not in lengths:
        raise ValueError('%s is %d bytes: it must be %s bytes' % (what, len(value), ' or '.join(str(n) for n in lengths)))
    return value


def _check_an(an):
    if isinstance(an, bool) or not isinstance(an, int) or not 0 <= an < MACSEC_NUM_AN:
        raise ValueError('AN must be 0, 1, 2 or 3, not %r' % (an,))
    return an


def _pn_bytes(pn, xpn):
    limit = (1 << 64) if xpn else (1 << 32)
    if isinstance(pn, bool) or not isinstance(pn, int) or not 0 < pn < limit:
        raise ValueError('PN must be between 1 and %d%s, not %r' % (limit - 1, ' (XPN)' if xpn else '', pn))
    # Host order: the kernel copies 4 or 8 bytes into a u64 (nla_get_u64), as iproute2 sends them.
    return struct.pack('=Q' if xpn else '=I', pn)


# ---------------------------------------------------------------------------------------------------------------
# rtnl: IFLA_INFO_DATA of link kind "macsec"
# ---------------------------------------------------------------------------------------------------------------

class macsec_data(nla):
    """IFLA_INFO_DATA of kind macsec. Short names (prefix stripped) are IPRoute's keywords: sci, port, ..."""

    prefix = 'IFLA_MACSEC_'
    nla_map = (
        ('IFLA_MACSEC_UNSPEC', 'none'),
        ('IFLA_MACSEC_SCI', 'be64'),
        ('IFLA_MACSEC_PORT', 'be16'),
        ('IFLA_MACSEC_ICV_LEN', 'uint8'),
        ('IFLA_MACSEC_CIPHER_SUITE', 'uint64'),
        ('IFLA_MACSEC_WINDOW', 'uint32'),
        ('IFLA_MACSEC_ENCODING_SA', 'uint8'),
        ('IFLA_MACSEC_ENCRYPT', 'uint8'),
        ('IFLA_MACSEC_PROTECT', 'uint8'),
        ('IFLA_MACSEC_INC_SCI', 'uint8'),
        ('IFLA_MACSEC_ES', 'uint8'),
        ('IFLA_MACSEC_SCB', 'uint8'),
        ('IFLA_MACSEC_REPLAY_PROTECT', 'uint8'),
        ('IFLA_MACSEC_VALIDATION', 'uint8'),
        ('IFLA_MACSEC_PAD', 'none'),
        ('IFLA_MACSEC_OFFLOAD', 'uint8'),
    )


LINK_KIND = 'macsec'


def link_kind_registry():
    """How this pyroute2 registers IFLA_INFO_DATA plugins, told by feature: 'register_link_kind' (0.7, 0.9:
    `ifinfmsg.ifinfo.register_link_kind(module={kind: class})`), 'data_map' (older: the dict itself), or None."""
    if ifinfmsg is None:
        return None
    ifinfo = getattr(ifinfmsg, 'ifinfo', None)
    if ifinfo is None:
        return None
    if callable(getattr(ifinfo, 'register_link_kind', None)):
        return 'register_link_kind'
    if isinstance(getattr(ifinfo, 'data_map', None), dict):
        return 'data_map'
    return None


def register_link_kind():
    """Teach pyroute2 the macsec link kind (idempotent). Returns True when registered."""
    way = link_kind_registry()
    if way == 'register_link_kind':
        ifinfmsg.ifinfo.register_link_kind(module={LINK_KIND: macsec_data})
    elif way == 'data_map':
        ifinfmsg.ifinfo.data_map[LINK_KIND] = macsec_data
    else:
        return False
    return ifinfmsg.ifinfo.data_map.get(LINK_KIND) is macsec_data


if HAS_PYROUTE2:
    register_link_kind()


def link_data(cipher='gcm-aes-128', icv_len=16, encrypt=True, port=None, sci=None, validate='strict',
              protect=None, replay_protect=None, window=None, encoding_sa=None, include_sci=None,
              end_station=None, scb=None, offload=None):
    """IFLA_INFO_DATA of a macsec link as IPRoute keywords (full NLA names): pass them on with
    `ipr.link('add', ifname=..., kind='macsec', link=<parent index>, **link_data(...))`.

    Only the given values are set; the kernel's defaults hold for the rest (None leaves a value out, also
    cipher and icv_len). `sci` and `port` exclude each other (the SCI already holds the port); an explicit `sci`
    needs the SCI in every frame (include_sci not off, no end_station, no scb: macsec_newlink refuses it).

    For `ipr.link('set', index=..., kind='macsec', ...)` (macsec_changelink) use change_link_data(): the kernel
    refuses the whole change with EINVAL as soon as the cipher, ICV length, SCI or port is in it (even at the
    value the link has), and Linux 6.1 ignores the offload there (MacsecSocket.set_offload() changes it).

    end_station and scb only show on the wire when the SCI is not sent: the kernel's default is to send it,
    so turning either on without saying include_sci turns include_sci off with it. The kernel refuses
    include_sci with end_station or scb, end_station with scb, replay protection without a window (in the
    same request) and an ICV length outside 8..16: those are ValueErrors here."""
    if sci is not None and port is not None:
        raise ValueError('give the SCI or the port, not both: the SCI holds the port')
    data = {}
    if cipher is not None:
        data['IFLA_MACSEC_CIPHER_SUITE'] = cipher_id(cipher)
    if icv_len is not None:
        if isinstance(icv_len, bool) or not MIN_ICV_LEN <= int(icv_len) <= MAX_ICV_LEN:
            raise ValueError('ICV length must be between %d and %d bytes, not %r' % (MIN_ICV_LEN, MAX_ICV_LEN,
                                                                                     icv_len))
        data['IFLA_MACSEC_ICV_LEN'] = int(icv_len)
    if sci is not None:
        data['IFLA_MACSEC_SCI'] = sci_int(sci)
    if port is not None:
        if not 1 <= int(port) <= 0xffff:
            raise ValueError('port must be between 1 and 65535, not %r' % (port,))
        data['IFLA_MACSEC_PORT'] = int(port)
    data.update(change_link_data(encrypt=encrypt, validate=validate, protect=protect,
                                 replay_protect=replay_protect, window=window, encoding_sa=encoding_sa,
                                 include_sci=include_sci, end_station=end_station, scb=scb))
    if sci is not None and data.get('IFLA_MACSEC_INC_SCI') == 0:
        raise ValueError('an explicit SCI needs include_sci (the kernel refuses it with include_sci off, and so '
                         'with end_station or scb): give the port instead')
    if window is not None and cipher in XPN_CIPHERS and int(window) > XPN_MAX_WINDOW:
        raise ValueError('the replay window of an XPN cipher is at most %d, not %r' % (XPN_MAX_WINDOW, window))
    if offload is not None:
        if offload not in OFFLOAD:
            raise ValueError('offload must be one of %s, not %r' % (', '.join(OFFLOAD), offload))
        data['IFLA_MACSEC_OFFLOAD'] = OFFLOAD[offload]
    return data


def change_link_data(encrypt=None, validate=None, protect=None, replay_protect=None, window=None,
                     encoding_sa=None, include_sci=None, end_station=None, scb=None):
    """IFLA_INFO_DATA of an in-place change, `ipr.link('set', index=..., kind='macsec', **change_link_data(...))`:
    only what macsec_changelink() takes (not RECREATE_OPTIONS, not the offload) and only the given values.

    Same rules as link_data(): a window turns replay protection on, replay protection needs a window,
    end_station or scb turn include_sci off unless it is given."""
    if window is not None and replay_protect is False:
        raise ValueError('a replay window needs replay protection')
    if replay_protect and window is None:
        raise ValueError('replay protection needs a window (0 for strict ordering): the kernel refuses it alone')
    if end_station and scb:
        raise ValueError('end_station and scb exclude each other')
    if include_sci and (end_station or scb):
        raise ValueError('include_sci excludes end_station and scb: their bits are sent only without the SCI')
    if include_sci is None and (end_station or scb):
        include_sci = False
    data = {}
    if validate is not None:
        if validate not in VALIDATION:
            raise ValueError('validate must be one of %s, not %r' % (', '.join(VALIDATION), validate))
        data['IFLA_MACSEC_VALIDATION'] = VALIDATION[validate]
    if encoding_sa is not None:
        data['IFLA_MACSEC_ENCODING_SA'] = _check_an(encoding_sa)
    if window is not None:
        if isinstance(window, bool) or not 0 <= int(window) < 1 << 32:
            raise ValueError('the replay window must be a 32-bit number, not %r' % (window,))
        data['IFLA_MACSEC_WINDOW'] = int(window)
        data['IFLA_MACSEC_REPLAY_PROTECT'] = 1
    for name, value in (('ENCRYPT', encrypt), ('PROTECT', protect), ('REPLAY_PROTECT', replay_protect),
                        ('INC_SCI', include_sci), ('ES', end_station), ('SCB', scb)):
        if value is not None:
            data['IFLA_MACSEC_' + name] = int(bool(value))
    return data


def parse_link_data(info_data):
    """Plain data of a decoded IFLA_INFO_DATA of kind macsec (a macsec_data nla, or a dict name → value)."""
    if isinstance(info_data, dict) and 'attrs' not in info_data:
        get = info_data.get
    else:
        def get(name):
            return info_data.get_attr(name)
    result = {}
    sci = get('IFLA_MACSEC_SCI')
    if sci is not None:
        result['sci'] = format_sci(sci)
        result['port'] = sci & 0xffff
    port = get('IFLA_MACSEC_PORT')
    if port is not None:
        result['port'] = port
    suite = get('IFLA_MACSEC_CIPHER_SUITE')
    if suite is not None:
        result['cipher'] = cipher_name(suite)
    for key, name in (('icv_len', 'ICV_LEN'), ('window', 'WINDOW'), ('encoding_sa', 'ENCODING_SA')):
        value = get('IFLA_MACSEC_' + name)
        if value is not None:
            result[key] = value
    for key, name in (('encrypt', 'ENCRYPT'), ('protect', 'PROTECT'), ('replay_protect', 'REPLAY_PROTECT'),
                      ('include_sci', 'INC_SCI'), ('end_station', 'ES'), ('scb', 'SCB')):
        value = get('IFLA_MACSEC_' + name)
        if value is not None:
            result[key] = bool(value)
    value = get('IFLA_MACSEC_VALIDATION')
    if value is not None:
        result['validate'] = _name_of(VALIDATION, value)
    value = get('IFLA_MACSEC_OFFLOAD')
    if value is not None:
        result['offload'] = _name_of(OFFLOAD, value)
    return result


# ---------------------------------------------------------------------------------------------------------------
# genl: the "macsec" family
# ---------------------------------------------------------------------------------------------------------------

class macsec_sa(nla):
    """An SA: the nested MACSEC_ATTR_SA_CONFIG of requests, an entry of the SA lists of dumps."""

    prefix = 'MACSEC_SA_ATTR_'
    nla_flags = NLA_F_NESTED
    nla_map = (
        ('MACSEC_SA_ATTR_UNSPEC', 'none'),
        ('MACSEC_SA_ATTR_AN', 'uint8'),
        ('MACSEC_SA_ATTR_ACTIVE', 'uint8'),
        ('MACSEC_SA_ATTR_PN', 'cdata'),  # u32, or u64 with XPN: packed by _pn_bytes, read by length
        ('MACSEC_SA_ATTR_KEY', 'cdata'),
        ('MACSEC_SA_ATTR_KEYID', 'cdata'),
        ('MACSEC_SA_ATTR_STATS', 'sa_stats'),
        ('MACSEC_SA_ATTR_PAD', 'none'),
        ('MACSEC_SA_ATTR_SSCI', 'be32'),
        ('MACSEC_SA_ATTR_SALT', 'cdata'),
    )

    class sa_stats(nla):
        prefix = 'MACSEC_SA_STATS_ATTR_'
        nla_map = (
            ('MACSEC_SA_STATS_ATTR_UNSPEC', 'none'),
            ('MACSEC_SA_STATS_ATTR_IN_PKTS_OK', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_IN_PKTS_INVALID', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_IN_PKTS_NOT_VALID', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_IN_PKTS_NOT_USING_SA', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_IN_PKTS_UNUSED_SA', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_OUT_PKTS_PROTECTED', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_OUT_PKTS_ENCRYPTED', 'uint32'),
            ('MACSEC_SA_STATS_ATTR_PAD', 'none'),
        )


class macsecmsg(genlmsg):
    """A message of the macsec genl family: requests and MACSEC_CMD_GET_TXSC dump replies."""

    prefix = 'MACSEC_ATTR_'
    nla_map = (
        ('MACSEC_ATTR_UNSPEC', 'none'),
        ('MACSEC_ATTR_IFINDEX', 'uint32'),
        ('MACSEC_ATTR_RXSC_CONFIG', 'rxsc_attrs'),
        ('MACSEC_ATTR_SA_CONFIG', 'sa_attrs'),
        ('MACSEC_ATTR_SECY', 'secy_attrs'),
        ('MACSEC_ATTR_TXSA_LIST', '*sa_attrs'),
        ('MACSEC_ATTR_RXSC_LIST', '*rxsc_attrs'),
        ('MACSEC_ATTR_TXSC_STATS', 'txsc_stats'),
        ('MACSEC_ATTR_SECY_STATS', 'secy_stats'),
        ('MACSEC_ATTR_OFFLOAD', 'offload_attrs'),
    )

    sa_attrs = macsec_sa

    class rxsc_attrs(nla):
        prefix = 'MACSEC_RXSC_ATTR_'
        nla_flags = NLA_F_NESTED
        nla_map = (
            ('MACSEC_RXSC_ATTR_UNSPEC', 'none'),
            ('MACSEC_RXSC_ATTR_SCI', 'be64'),
            ('MACSEC_RXSC_ATTR_ACTIVE', 'uint8'),
            ('MACSEC_RXSC_ATTR_SA_LIST', '*sa_attrs'),
            ('MACSEC_RXSC_ATTR_STATS', 'rxsc_stats'),
            ('MACSEC_RXSC_ATTR_PAD', 'none'),
        )

        sa_attrs = macsec_sa

        class rxsc_stats(nla):
            prefix = 'MACSEC_RXSC_STATS_ATTR_'
            nla_map = (
                ('MACSEC_RXSC_STATS_ATTR_UNSPEC', 'none'),
                ('MACSEC_RXSC_STATS_ATTR_IN_OCTETS_VALIDATED', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_OCTETS_DECRYPTED', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_UNCHECKED', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_DELAYED', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_OK', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_INVALID', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_LATE', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_NOT_VALID', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_NOT_USING_SA', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_IN_PKTS_UNUSED_SA', 'uint64'),
                ('MACSEC_RXSC_STATS_ATTR_PAD', 'none'),
            )

    class secy_attrs(nla):
        prefix = 'MACSEC_SECY_ATTR_'
        nla_flags = NLA_F_NESTED
        nla_map = (
            ('MACSEC_SECY_ATTR_UNSPEC', 'none'),
            ('MACSEC_SECY_ATTR_SCI', 'be64'),
            ('MACSEC_SECY_ATTR_ENCODING_SA', 'uint8'),
            ('MACSEC_SECY_ATTR_WINDOW', 'uint32'),
            ('MACSEC_SECY_ATTR_CIPHER_SUITE', 'uint64'),
            ('MACSEC_SECY_ATTR_ICV_LEN', 'uint8'),
            ('MACSEC_SECY_ATTR_PROTECT', 'uint8'),
            ('MACSEC_SECY_ATTR_REPLAY', 'uint8'),
            ('MACSEC_SECY_ATTR_OPER', 'uint8'),
            ('MACSEC_SECY_ATTR_VALIDATE', 'uint8'),
            ('MACSEC_SECY_ATTR_ENCRYPT', 'uint8'),
            ('MACSEC_SECY_ATTR_INC_SCI', 'uint8'),
            ('MACSEC_SECY_ATTR_ES', 'uint8'),
            ('MACSEC_SECY_ATTR_SCB', 'uint8'),
            ('MACSEC_SECY_ATTR_PAD', 'none'),
        )

    class txsc_stats(nla):
        prefix = 'MACSEC_TXSC_STATS_ATTR_'
        nla_map = (
            ('MACSEC_TXSC_STATS_ATTR_UNSPEC', 'none'),
            ('MACSEC_TXSC_STATS_ATTR_OUT_PKTS_PROTECTED', 'uint64'),
            ('MACSEC_TXSC_STATS_ATTR_OUT_PKTS_ENCRYPTED', 'uint64'),
            ('MACSEC_TXSC_STATS_ATTR_OUT_OCTETS_PROTECTED', 'uint64'),
            ('MACSEC_TXSC_STATS_ATTR_OUT_OCTETS_ENCRYPTED', 'uint64'),
            ('MACSEC_TXSC_STATS_ATTR_PAD', 'none'),
        )

    class secy_stats(nla):
        prefix = 'MACSEC_SECY_STATS_ATTR_'
        nla_map = (
            ('MACSEC_SECY_STATS_ATTR_UNSPEC', 'none'),
            ('MACSEC_SECY_STATS_ATTR_OUT_PKTS_UNTAGGED', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_IN_PKTS_UNTAGGED', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_OUT_PKTS_TOO_LONG', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_IN_PKTS_NO_TAG', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_IN_PKTS_BAD_TAG', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_IN_PKTS_UNKNOWN_SCI', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_IN_PKTS_NO_SCI', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_IN_PKTS_OVERRUN', 'uint64'),
            ('MACSEC_SECY_STATS_ATTR_PAD', 'none'),
        )

    class offload_attrs(nla):
        prefix = 'MACSEC_OFFLOAD_ATTR_'
        nla_flags = NLA_F_NESTED
        nla_map = (
            ('MACSEC_OFFLOAD_ATTR_UNSPEC', 'none'),
            ('MACSEC_OFFLOAD_ATTR_TYPE', 'uint8'),
            ('MACSEC_OFFLOAD_ATTR_PAD', 'none'),
        )


# --- message building: pure functions, (name, value) lists -----------------------------------------------------

def sa_config(an, pn=None, key=None, keyid=None, active=None, ssci=None, salt=None, xpn=None):
    """The nested MACSEC_ATTR_SA_CONFIG of an SA. XPN (64-bit PN) is implied by ssci or salt, or set by xpn."""
    if xpn is None:
        xpn = ssci is not None or salt is not None
    attrs = [('MACSEC_SA_ATTR_AN', _check_an(an))]
    if active is not None:
        attrs.append(('MACSEC_SA_ATTR_ACTIVE', int(bool(active))))
    if pn is not None:
        attrs.append(('MACSEC_SA_ATTR_PN', _pn_bytes(pn, xpn)))
    if key is not None:
        attrs.append(('MACSEC_SA_ATTR_KEY', _as_bytes(key, 'the key', KEY_LENGTHS)))
    if keyid is not None:
        attrs.append(('MACSEC_SA_ATTR_KEYID', _as_bytes(keyid, 'the key id', (MACSEC_KEYID_LEN,))))
    if ssci is not None:
        if isinstance(ssci, bool) or not isinstance(ssci, int) or not 0 <= ssci < 1 << 32:
            raise ValueError('SSCI must be a 32-bit number, not %r' % (ssci,))
        attrs.append(('MACSEC_SA_ATTR_SSCI', ssci))
    if salt is not None:
        attrs.append(('MACSEC_SA_ATTR_SALT', _as_bytes(salt, 'the salt', (MACSEC_SALT_LEN,))))
    return ('MACSEC_ATTR_SA_CONFIG', {'attrs': attrs})


def rxsc_config(sci, active=None):
    """The nested MACSEC_ATTR_RXSC_CONFIG naming an RX SC."""
    attrs = [('MACSEC_RXSC_ATTR_SCI', sci_int(sci))]
    if active is not None:
        attrs.append(('MACSEC_RXSC_ATTR_ACTIVE', int(bool(active))))
    return ('MACSEC_ATTR_RXSC_CONFIG', {'attrs': attrs})


def _ifindex(ifindex):
    if isinstance(ifindex, bool) or not isinstance(ifindex, int) or ifindex <= 0:
        raise ValueError('ifindex must be a positive number, not %r' % (ifindex,))
    return ('MACSEC_ATTR_IFINDEX', ifindex)


def _require(what, **values):
    missing = [name for name, value in values.items() if value is None]
    if missing:
        raise ValueError('%s needs %s' % (what, ', '.join(missing)))


def rxsc_attrs(ifindex, sci, active=None):
    """Attributes of MACSEC_CMD_ADD_RXSC / UPD_RXSC / DEL_RXSC."""
    return [_ifindex(ifindex), rxsc_config(sci, active)]


def txsa_attrs(ifindex, an, pn=None, key=None, keyid=None, active=None, ssci=None, salt=None, xpn=None):
    """Attributes of MACSEC_CMD_ADD_TXSA / UPD_TXSA / DEL_TXSA (give only what the command takes)."""
    return [_ifindex(ifindex), sa_config(an, pn, key, keyid, active, ssci, salt, xpn)]


def rxsa_attrs(ifindex, sci, an, pn=None, key=None, keyid=None, active=None, ssci=None, salt=None, xpn=None):
    """Attributes of MACSEC_CMD_ADD_RXSA / UPD_RXSA / DEL_RXSA (give only what the command takes)."""
    return [_ifindex(ifindex), rxsc_config(sci), sa_config(an, pn, key, keyid, active, ssci, salt, xpn)]


def offload_attrs(ifindex, offload):
    """Attributes of MACSEC_CMD_UPD_OFFLOAD."""
    if offload not in OFFLOAD:
        raise ValueError('offload must be one of %s, not %r' % (', '.join(OFFLOAD), offload))
    return [_ifindex(ifindex),
            ('MACSEC_ATTR_OFFLOAD', {'attrs': [('MACSEC_OFFLOAD_ATTR_TYPE', OFFLOAD[offload])]})]


def add_txsa_attrs(ifindex, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
    _require('adding a TX SA', pn=pn, key=key, keyid=keyid)
    _require_xpn('adding a TX SA', ssci, salt, xpn)
    return txsa_attrs(ifindex, an, pn, key, keyid, active, ssci, salt, xpn)


def add_rxsa_attrs(ifindex, sci, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
    _require('adding an RX SA', pn=pn, key=key, keyid=keyid)
    _require_xpn('adding an RX SA', ssci, salt, xpn)
    return rxsa_attrs(ifindex, sci, an, pn, key, keyid, active, ssci, salt, xpn)


def _require_xpn(what, ssci, salt, xpn):
    if xpn or ssci is not None or salt is not None:
        _require(what + ' with XPN', ssci=ssci, salt=salt)


def build_message(cmd, attrs):
    """A macsecmsg of a command with its attributes, ready for nlm_request (or for encode() in tests)."""
    msg = macsecmsg()
    msg['cmd'] = cmd
    msg['version'] = MACSEC_GENL_VERSION
    msg['attrs'] = [list(attr) for attr in attrs]
    return msg


# --- dump parsing ------------------------------------------------------------------------------------------------

def _lower_names(stats, prefix):
    if stats is None:
        return {}
    return dict((name[len(prefix):].lower(), value) for name, value in stats['attrs']
                if not name.endswith(('_UNSPEC', '_PAD')) and name.startswith(prefix))


def _pn_int(raw):
    if raw is None:
        return None
    if len(raw) == 4:
        return struct.unpack('=I', raw)[0]
    if len(raw) == 8:
        return struct.unpack('=Q', raw)[0]
    return int.from_bytes(raw, 'little')


def _array(value):
    """The entries of a '*' (array) attribute, which pyroute2 decodes to a list of nla."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _parse_sa(sa):
    keyid = sa.get_attr('MACSEC_SA_ATTR_KEYID')
    result = {
        'an': sa.get_attr('MACSEC_SA_ATTR_AN'),
        'active': bool(sa.get_attr('MACSEC_SA_ATTR_ACTIVE')),
        'pn': _pn_int(sa.get_attr('MACSEC_SA_ATTR_PN')),
        'keyid': keyid.hex() if keyid is not None else None,
        'stats': _lower_names(sa.get_attr('MACSEC_SA_ATTR_STATS'), 'MACSEC_SA_STATS_ATTR_'),
    }
    ssci = sa.get_attr('MACSEC_SA_ATTR_SSCI')
    if ssci is not None:
        result['ssci'] = ssci
    return result


def parse_secy(msg):
    """Plain data of one MACSEC_CMD_GET_TXSC dump reply (one SecY). No key material: the kernel sends none."""
    secy = msg.get_attr('MACSEC_ATTR_SECY')
    data = {}
    if secy is not None:
        flags = {'protect': 'PROTECT', 'replay_protect': 'REPLAY', 'oper': 'OPER', 'encrypt': 'ENCRYPT',
                 'include_sci': 'INC_SCI', 'end_station': 'ES', 'scb': 'SCB'}
        sci = secy.get_attr('MACSEC_SECY_ATTR_SCI')
        suite = secy.get_attr('MACSEC_SECY_ATTR_CIPHER_SUITE')
        validate = secy.get_attr('MACSEC_SECY_ATTR_VALIDATE')
        data = {
            'sci': format_sci(sci) if sci is not None else None,
            'cipher': cipher_name(suite) if suite is not None else None,
            'cipher_id': suite,
            'icv_len': secy.get_attr('MACSEC_SECY_ATTR_ICV_LEN'),
            'encoding_sa': secy.get_attr('MACSEC_SECY_ATTR_ENCODING_SA'),
            'window': secy.get_attr('MACSEC_SECY_ATTR_WINDOW'),
            'validate': _name_of(VALIDATION, validate) if validate is not None else None,
        }
        for key, name in flags.items():
            value = secy.get_attr('MACSEC_SECY_ATTR_' + name)
            data[key] = None if value is None else bool(value)
    offload = msg.get_attr('MACSEC_ATTR_OFFLOAD')
    offload_type = offload.get_attr('MACSEC_OFFLOAD_ATTR_TYPE') if offload is not None else None
    rx_scs = []
    for rxsc in _array(msg.get_attr('MACSEC_ATTR_RXSC_LIST')):
        sci = rxsc.get_attr('MACSEC_RXSC_ATTR_SCI')
        rx_scs.append({
            'sci': format_sci(sci) if sci is not None else None,
            'active': bool(rxsc.get_attr('MACSEC_RXSC_ATTR_ACTIVE')),
            'stats': _lower_names(rxsc.get_attr('MACSEC_RXSC_ATTR_STATS'), 'MACSEC_RXSC_STATS_ATTR_'),
            'sas': sorted((_parse_sa(sa) for sa in _array(rxsc.get_attr('MACSEC_RXSC_ATTR_SA_LIST'))),
                          key=lambda sa: sa['an']),
        })
    return {
        'ifindex': msg.get_attr('MACSEC_ATTR_IFINDEX'),
        'secy': data,
        'offload': _name_of(OFFLOAD, offload_type) if offload_type is not None else None,
        'txsc_stats': _lower_names(msg.get_attr('MACSEC_ATTR_TXSC_STATS'), 'MACSEC_TXSC_STATS_ATTR_'),
        'secy_stats': _lower_names(msg.get_attr('MACSEC_ATTR_SECY_STATS'), 'MACSEC_SECY_STATS_ATTR_'),
        'tx_sas': sorted((_parse_sa(sa) for sa in _array(msg.get_attr('MACSEC_ATTR_TXSA_LIST'))),
                         key=lambda sa: sa['an']),
        'rx_scs': sorted(rx_scs, key=lambda sc: sc['sci'] or ''),
    }


# --- errors --------------------------------------------------------------------------------------------------------

NO_MACSEC = 'the kernel has no macsec support (modprobe macsec)'

ADD_SA_COMMANDS = (MACSEC_CMD_ADD_TXSA, MACSEC_CMD_ADD_RXSA)
RX_COMMANDS = (MACSEC_CMD_ADD_RXSC, MACSEC_CMD_DEL_RXSC, MACSEC_CMD_UPD_RXSC,
               MACSEC_CMD_ADD_RXSA, MACSEC_CMD_DEL_RXSA, MACSEC_CMD_UPD_RXSA)


class MacsecError(Exception):
    """A refused netlink request, with errno and a message for a person.

    `code` is the errno the kernel returned, as it returned it. Linux 6.1 says ENODEV (not ENOENT) for an RX SC
    or SA that does not exist, as for an ifindex that is no MACsec interface; EBUSY both for deleting an active
    SA and for adding an SA at an AN that is taken; EEXIST for an RX SC that exists. The message tells which."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _attr_names(attrs):
    names = []
    for name, value in attrs:
        if isinstance(value, dict):
            names.extend(sub for sub, dummy in value.get('attrs', ()))
        else:
            names.append(name)
    return names


def _sa_of(secy, sci, an):
    """The SA at `an` of the TX SC (sci None) or of the RX SC `sci` in a parse_secy() result, or None."""
    if sci is None:
        sas = secy.get('tx_sas', ())
    else:
        scs = [sc for sc in secy.get('rx_scs', ()) if sc['sci'] == format_sci(sci)]
        sas = scs[0]['sas'] if scs else ()
    return ([sa for sa in sas if sa['an'] == an] or [None])[0]


def _einval_reasons(cmd, sa, secy):
    """Why an SA request is invalid, told from the SecY it was meant for (a parse_secy() result)."""
    cipher = secy.get('secy', {}).get('cipher')
    if cipher not in CIPHER_IDS:
        return []
    xpn = cipher in XPN_CIPHERS
    reasons = []
    key = sa.get('MACSEC_SA_ATTR_KEY')
    if key is not None and len(key) != key_length(cipher):
        reasons.append('the key is %d bytes, the SecY\'s cipher %s takes %d-byte keys'
                       % (len(key), cipher, key_length(cipher)))
    keyid = sa.get('MACSEC_SA_ATTR_KEYID')
    if keyid is not None and len(keyid) != MACSEC_KEYID_LEN:
        reasons.append('the key id is %d bytes, the kernel takes %d' % (len(keyid), MACSEC_KEYID_LEN))
    salt = sa.get('MACSEC_SA_ATTR_SALT')
    if xpn and salt is not None and len(salt) != MACSEC_SALT_LEN:
        reasons.append('the salt is %d bytes, the kernel takes %d' % (len(salt), MACSEC_SALT_LEN))
    pn = sa.get('MACSEC_SA_ATTR_PN')
    if pn is not None and len(pn) != (8 if xpn else 4):
        reasons.append('the PN was sent as %d bits, the SecY\'s cipher %s takes %s (xpn=%s)'
                       % (len(pn) * 8, cipher, '64-bit PNs' if xpn else '32-bit PNs', xpn))
    if xpn and cmd in ADD_SA_COMMANDS:
        missing = [name for name in ('SSCI', 'SALT') if sa.get('MACSEC_SA_ATTR_' + name) is None]
        if missing:
            reasons.append('the SecY\'s cipher %s is XPN: an SA needs %s' % (cipher, ' and '.join(
                name.lower() for name in missing)))
    return reasons


def explain_error(code, cmd=None, attrs=(), kernel_message=None, secy=None):
    """A clear message for an errno the kernel returned to a macsec request.

    `secy` is what is known of the interface the request was for: None (not looked), False (the ifindex is no
    SecY) or its parse_secy() result; with it ENODEV and EINVAL say precisely what is missing or wrong."""
    what = COMMAND_NAMES.get(cmd, 'talk to the macsec family')
    sent = dict(attrs)
    sa = dict(sent.get('MACSEC_ATTR_SA_CONFIG', {}).get('attrs', ()))
    rxsc = dict(sent.get('MACSEC_ATTR_RXSC_CONFIG', {}).get('attrs', ()))
    offload = dict(sent.get('MACSEC_ATTR_OFFLOAD', {}).get('attrs', ()))
    an = sa.get('MACSEC_SA_ATTR_AN')
    sci = rxsc.get('MACSEC_RXSC_ATTR_SCI')
    ifindex = sent.get('MACSEC_ATTR_IFINDEX')
    interface = 'interface %s' % ifindex if ifindex is not None else 'the interface'
    subject = ''
    if an is not None:
        subject = ' (AN %d%s)' % (an, '' if sci is None else ', SCI %s' % format_sci(sci))
    elif sci is not None:
        subject = ' (SCI %s)' % format_sci(sci)
    if code == errno.EBUSY and an is not None and cmd in ADD_SA_COMMANDS:
        text = 'AN %d exists already: update that SA, or delete it first' % an
    elif code == errno.EBUSY and an is not None:
        text = 'AN %d is in use: an active SA cannot be deleted; deactivate it first' % an
    elif code == errno.EBUSY:
        text = 'the interface is busy'
    elif code == errno.EINVAL:
        names = [n for n in _attr_names(attrs) if n != 'MACSEC_ATTR_IFINDEX']
        reasons = _einval_reasons(cmd, sa, secy) if isinstance(secy, dict) and sa else []
        text = 'the kernel refused an attribute as invalid'
        if kernel_message:
            reasons.append(kernel_message)
        if reasons:
            text += ': %s' % '; '.join(reasons)
        elif names:
            text += ' (one of %s; key length must match the cipher, PN 32-bit without XPN, 64-bit with)' \
                % ', '.join(names)
    elif code in (errno.ENOENT, errno.ENODEV) and secy is False:
        text = '%s is not a MACsec interface (or does not exist)' % interface
    elif code in (errno.ENOENT, errno.ENODEV) and isinstance(secy, dict) and cmd in RX_COMMANDS and sci is not None \
            and not [sc for sc in secy.get('rx_scs', ()) if sc['sci'] == format_sci(sci)]:
        text = 'no RX SC %s on %s' % (format_sci(sci), interface)
    elif code in (errno.ENOENT, errno.ENODEV) and isinstance(secy, dict) and an is not None \
            and _sa_of(secy, sci, an) is None:
        text = 'no %s SA with AN %d%s' % ('TX' if sci is None else 'RX', an,
                                          '' if sci is None else ' on RX SC %s' % format_sci(sci))
    elif code == errno.ENOENT or (code == errno.ENODEV and (an is not None or sci is not None)):
        # Linux says ENODEV for a missing RX SC or SA as for an ifindex that is no MACsec interface.
        text = 'no such %s' % ('SA' if an is not None else 'RX SC')
        if code == errno.ENODEV:
            text += ', or %s is not a MACsec interface' % interface
    elif code == errno.ENODEV:
        text = '%s is not a MACsec interface, or %s' % (interface, NO_MACSEC)
    elif code == errno.EEXIST:
        text = 'it exists already'
    elif code in (errno.EOPNOTSUPP, errno.ENOTSUP) and cmd == MACSEC_CMD_UPD_OFFLOAD:
        wanted = _name_of(OFFLOAD, offload.get('MACSEC_OFFLOAD_ATTR_TYPE'))
        text = 'the lower device of %s offers no MACsec offload %r (only \'off\' works on it)' % (interface, wanted)
    elif code in (errno.EOPNOTSUPP, errno.ENOTSUP):
        text = 'not supported by the interface (offload?) or ' + NO_MACSEC
    elif code == errno.EPERM:
        text = 'permission denied: changing MACsec needs CAP_NET_ADMIN (become: true)'
    elif code == errno.ENOSPC:
        text = 'no room: the kernel holds at most 4 SAs per SC'
    else:
        text = kernel_message or errno.errorcode.get(code, str(code))
    return 'cannot %s%s: %s' % (what, subject, text)


LINK_ACTIONS = {'add': 'create', 'set': 'change', 'change': 'change', 'del': 'delete', 'remove': 'delete'}


def explain_link_error(code, action='add', data=None, kernel_message=None, ifname=None):
    """A clear message for an errno the kernel returned to `IPRoute().link(action, kind='macsec', ...)`
    (macsec_newlink, macsec_changelink, macsec_validate_attr). `data` is the link_data() that was sent."""
    data = data or {}
    verb = LINK_ACTIONS.get(action, action)
    subject = 'the MACsec interface' + (' %s' % ifname if ifname else '')
    fixed = [name for name, attr in (('cipher', 'CIPHER_SUITE'), ('icv_len', 'ICV_LEN'), ('sci', 'SCI'),
                                     ('port', 'PORT')) if 'IFLA_MACSEC_' + attr in data]
    offload = data.get('IFLA_MACSEC_OFFLOAD')
    if code == errno.EINVAL and verb == 'change' and fixed:
        text = '%s cannot change on an existing MACsec interface (the kernel refuses the whole change): ' \
               'delete the interface and create it again' % ', '.join(fixed)
    elif code == errno.EINVAL:
        text = 'the kernel refused the settings as invalid (ICV length %d..%d; replay protection needs a window; ' \
               'an XPN window is at most %d; include_sci excludes end_station and scb, end_station excludes ' \
               'scb; an explicit SCI needs include_sci; the cipher, ICV length, SCI and port cannot change in ' \
               'place)' % (MIN_ICV_LEN, MAX_ICV_LEN, XPN_MAX_WINDOW)
        if kernel_message:
            text += ': %s' % kernel_message
    elif code == errno.EBUSY and verb == 'create':
        port = data.get('IFLA_MACSEC_PORT')
        text = 'the parent already carries a SecY with this SCI%s: choose another port' % (
            ' (port %d)' % port if port is not None else '')
    elif code == errno.EEXIST:
        text = 'an interface of that name exists already'
    elif code in (errno.EOPNOTSUPP, errno.ENOTSUP) and offload:
        text = 'the parent offers no MACsec offload %r (only \'off\' works on it)' % _name_of(OFFLOAD, offload)
    elif code in (errno.EOPNOTSUPP, errno.ENOTSUP):
        text = NO_MACSEC
    elif code == errno.ENODEV:
        text = 'no such parent interface' if verb == 'create' else 'no such interface'
    elif code == errno.EPERM:
        text = 'permission denied: changing MACsec needs CAP_NET_ADMIN (become: true)'
    else:
        text = kernel_message or errno.errorcode.get(code, str(code))
    return 'cannot %s %s: %s' % (verb, subject, text)


def link_error(exc, action='add', data=None, ifname=None):
    """A MacsecError of a NetlinkError that IPRoute().link() raised for a macsec link (see explain_link_error)."""
    code = getattr(exc, 'code', None) or errno.EIO
    kernel_message = _kernel_message(exc)
    return MacsecError(code, explain_link_error(code, action, data, kernel_message, ifname))


def _kernel_message(exc):
    """The extended-ack text of a NetlinkError, when the kernel sent one beyond strerror."""
    args = getattr(exc, 'args', ())
    if len(args) > 1 and args[1] and args[1] != os.strerror(exc.code):
        return str(args[1])
    return None


# --- the socket ------------------------------------------------------------------------------------------------

DIAGNOSED = (errno.ENODEV, errno.ENOENT, errno.EINVAL)


class MacsecSocket(GenericNetlinkSocket):
    """Client of the macsec genl family. Raises MacsecError (with .code) for what the kernel refuses."""

    module_err_level = 'debug'  # a missing family is reported by MacsecError, not logged by pyroute2 (0.7)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        core = getattr(self, 'asyncore', None)  # 0.9: the family lookup runs in the async core, which logs
        if core is not None:
            core.module_err_level = 'debug'
        try:
            self.bind(MACSEC_GENL_NAME, macsecmsg)
        except NetlinkError as exc:
            self.close()
            if exc.code == errno.ENOENT:
                raise MacsecError(errno.ENODEV, NO_MACSEC) from None
            raise MacsecError(exc.code, explain_error(exc.code, kernel_message=str(exc))) from None

    def _exchange(self, msg, flags):
        """Send one request and collect its replies (NetlinkError on a refusal), without pyroute2 0.7's retries."""
        if getattr(self, 'asyncore', None) is not None or not hasattr(self, 'addr_pool'):
            # 0.9 (and the tests' fakes): nlm_request retries EBUSY only when sending fails, not on the answer.
            return list(self.nlm_request(msg, msg_type=self.prid, msg_flags=flags))
        # 0.7: nlm_request sends again a request the kernel answered with EBUSY, 30 times 0.3 s apart (9 s and
        # a warning per try). The macsec family's EBUSY (an active SA, an AN that is taken) is final: ask once.
        msg_seq = self.addr_pool.alloc()
        try:
            with self.lock[msg_seq]:
                self.put(msg, self.prid, flags, msg_seq=msg_seq)
                return list(self.get(msg_seq=msg_seq))
        finally:
            self.addr_pool.free(msg_seq, ban=0xFF)

    def request(self, cmd, attrs, flags=NLM_F_REQUEST | NLM_F_ACK):
        msg = build_message(cmd, attrs)
        try:
            return self._exchange(msg, flags)
        except NetlinkError as exc:
            code, kernel_message = exc.code, _kernel_message(exc)
        # Outside the except block: the look-up below is a request of its own.
        secy = None
        ifindex = dict(attrs).get('MACSEC_ATTR_IFINDEX')
        if code in DIAGNOSED and ifindex is not None and cmd != MACSEC_CMD_GET_TXSC:
            secy = self.secy(ifindex)
        raise MacsecError(code, explain_error(code, cmd, attrs, kernel_message, secy))

    def secy(self, ifindex):
        """The SecY of ifindex as dump() has it, False when there is none, None when the dump fails."""
        try:
            found = self.dump(ifindex)
        except (MacsecError, NetlinkError, OSError):
            return None
        return found[0] if found else False

    def is_xpn(self, ifindex):
        """True when the SecY of ifindex runs an XPN cipher (64-bit PNs); False also when there is no SecY."""
        secy = self.secy(ifindex)
        return bool(secy) and secy['secy'].get('cipher') in XPN_CIPHERS

    def dump(self, ifindex=None):
        """Every SecY (or the one of ifindex) as plain data: secy, offload, stats, tx_sas, rx_scs."""
        replies = self.request(MACSEC_CMD_GET_TXSC, [], NLM_F_REQUEST | NLM_F_DUMP)
        secys = [parse_secy(reply) for reply in replies if reply.get_attr('MACSEC_ATTR_IFINDEX') is not None]
        if ifindex is not None:
            secys = [secy for secy in secys if secy['ifindex'] == ifindex]
        return secys

    def add_rxsc(self, ifindex, sci, active=True):
        return self.request(MACSEC_CMD_ADD_RXSC, rxsc_attrs(ifindex, sci, active))

    def update_rxsc(self, ifindex, sci, active):
        return self.request(MACSEC_CMD_UPD_RXSC, rxsc_attrs(ifindex, sci, active))

    def del_rxsc(self, ifindex, sci):
        return self.request(MACSEC_CMD_DEL_RXSC, rxsc_attrs(ifindex, sci))

    def add_txsa(self, ifindex, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
        return self.request(MACSEC_CMD_ADD_TXSA, add_txsa_attrs(ifindex, an, pn, key, keyid, active, ssci, salt, xpn))

    def _pn_xpn(self, ifindex, pn, xpn):
        # The kernel takes a PN only at the SecY's size (4 bytes, 8 with XPN): ask it when the caller did not say.
        if xpn is None:
            xpn = pn is not None and self.is_xpn(ifindex)
        return xpn

    def update_txsa(self, ifindex, an, pn=None, active=None, xpn=None):
        """Change what the kernel lets change on an SA: its PN and whether it is active (not key, key id, salt).
        xpn None: a PN is sent at the size the SecY's cipher takes (looked up)."""
        xpn = self._pn_xpn(ifindex, pn, xpn)
        return self.request(MACSEC_CMD_UPD_TXSA, txsa_attrs(ifindex, an, pn=pn, active=active, xpn=xpn))

    def del_txsa(self, ifindex, an):
        return self.request(MACSEC_CMD_DEL_TXSA, txsa_attrs(ifindex, an))

    def add_rxsa(self, ifindex, sci, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
        return self.request(MACSEC_CMD_ADD_RXSA,
                            add_rxsa_attrs(ifindex, sci, an, pn, key, keyid, active, ssci, salt, xpn))

    def update_rxsa(self, ifindex, sci, an, pn=None, active=None, xpn=None):
        """Like update_txsa(), for the SA `an` of the RX SC `sci`."""
        xpn = self._pn_xpn(ifindex, pn, xpn)
        return self.request(MACSEC_CMD_UPD_RXSA, rxsa_attrs(ifindex, sci, an, pn=pn, active=active, xpn=xpn))

    def del_rxsa(self, ifindex, sci, an):
        return self.request(MACSEC_CMD_DEL_RXSA, rxsa_attrs(ifindex, sci, an))

    def set_offload(self, ifindex, offload):
        return self.request(MACSEC_CMD_UPD_OFFLOAD, offload_attrs(ifindex, offload))
