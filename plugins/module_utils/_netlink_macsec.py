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
errors come back as `MacsecError` with a message meant for a person (`explain_error()`).

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
    ifinfmsg = None

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

    Only the given values are set; the kernel's defaults hold for the rest. `sci` and `port` exclude each
    other (the SCI already holds the port)."""
    if sci is not None and port is not None:
        raise ValueError('give the SCI or the port, not both: the SCI holds the port')
    if window is not None and replay_protect is False:
        raise ValueError('a replay window needs replay protection')
    data = {'IFLA_MACSEC_CIPHER_SUITE': cipher_id(cipher)}
    if icv_len is not None:
        if not 8 <= int(icv_len) <= 32:
            raise ValueError('ICV length must be between 8 and 32 bytes, not %r' % (icv_len,))
        data['IFLA_MACSEC_ICV_LEN'] = int(icv_len)
    if sci is not None:
        data['IFLA_MACSEC_SCI'] = sci_int(sci)
    if port is not None:
        if not 1 <= int(port) <= 0xffff:
            raise ValueError('port must be between 1 and 65535, not %r' % (port,))
        data['IFLA_MACSEC_PORT'] = int(port)
    if validate is not None:
        if validate not in VALIDATION:
            raise ValueError('validate must be one of %s, not %r' % (', '.join(VALIDATION), validate))
        data['IFLA_MACSEC_VALIDATION'] = VALIDATION[validate]
    if offload is not None:
        if offload not in OFFLOAD:
            raise ValueError('offload must be one of %s, not %r' % (', '.join(OFFLOAD), offload))
        data['IFLA_MACSEC_OFFLOAD'] = OFFLOAD[offload]
    if encoding_sa is not None:
        data['IFLA_MACSEC_ENCODING_SA'] = _check_an(encoding_sa)
    if window is not None:
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


class MacsecError(Exception):
    """A refused netlink request, with errno and a message for a person."""

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


def explain_error(code, cmd=None, attrs=(), kernel_message=None):
    """A clear message for an errno the kernel returned to a macsec request."""
    what = COMMAND_NAMES.get(cmd, 'talk to the macsec family')
    sent = dict(attrs)
    sa = dict(sent.get('MACSEC_ATTR_SA_CONFIG', {}).get('attrs', ()))
    rxsc = dict(sent.get('MACSEC_ATTR_RXSC_CONFIG', {}).get('attrs', ()))
    an = sa.get('MACSEC_SA_ATTR_AN')
    sci = rxsc.get('MACSEC_RXSC_ATTR_SCI')
    subject = ''
    if an is not None:
        subject = ' (AN %d%s)' % (an, '' if sci is None else ', SCI %s' % format_sci(sci))
    elif sci is not None:
        subject = ' (SCI %s)' % format_sci(sci)
    if code == errno.EBUSY and an is not None:
        text = 'AN %d is in use: an active SA cannot be deleted; deactivate it first' % an
    elif code == errno.EBUSY:
        text = 'the interface is busy'
    elif code == errno.EINVAL:
        names = [n for n in _attr_names(attrs) if n != 'MACSEC_ATTR_IFINDEX']
        text = 'the kernel refused an attribute as invalid'
        if kernel_message:
            text += ': %s' % kernel_message
        elif names:
            text += ' (one of %s; key length must match the cipher, PN 32-bit without XPN, 64-bit with)' \
                % ', '.join(names)
    elif code == errno.ENOENT:
        text = 'no such %s' % ('SA' if an is not None else 'RX SC' if sci is not None else 'object')
    elif code == errno.EEXIST:
        text = 'it exists already'
    elif code == errno.ENODEV:
        text = 'the interface is not a MACsec interface, or ' + NO_MACSEC
    elif code in (errno.EOPNOTSUPP, errno.ENOTSUP):
        text = 'not supported by the interface (offload?) or ' + NO_MACSEC
    elif code == errno.EPERM:
        text = 'permission denied: changing MACsec needs CAP_NET_ADMIN (become: true)'
    elif code == errno.ENOSPC:
        text = 'no room: the kernel holds at most 4 SAs per SC'
    else:
        text = kernel_message or errno.errorcode.get(code, str(code))
    return 'cannot %s%s: %s' % (what, subject, text)


# --- the socket ------------------------------------------------------------------------------------------------

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

    def request(self, cmd, attrs, flags=NLM_F_REQUEST | NLM_F_ACK):
        msg = build_message(cmd, attrs)
        try:
            return list(self.nlm_request(msg, msg_type=self.prid, msg_flags=flags))
        except NetlinkError as exc:
            kernel_message = exc.args[1] if len(exc.args) > 1 and exc.args[1] != os.strerror(exc.code) else None
            raise MacsecError(exc.code, explain_error(exc.code, cmd, attrs, kernel_message)) from None

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

    def update_txsa(self, ifindex, an, pn=None, active=None, xpn=False):
        """Change what the kernel lets change on an SA: its PN and whether it is active (not key, key id, salt)."""
        return self.request(MACSEC_CMD_UPD_TXSA, txsa_attrs(ifindex, an, pn=pn, active=active, xpn=xpn))

    def del_txsa(self, ifindex, an):
        return self.request(MACSEC_CMD_DEL_TXSA, txsa_attrs(ifindex, an))

    def add_rxsa(self, ifindex, sci, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
        return self.request(MACSEC_CMD_ADD_RXSA,
                            add_rxsa_attrs(ifindex, sci, an, pn, key, keyid, active, ssci, salt, xpn))

    def update_rxsa(self, ifindex, sci, an, pn=None, active=None, xpn=False):
        return self.request(MACSEC_CMD_UPD_RXSA, rxsa_attrs(ifindex, sci, an, pn=pn, active=active, xpn=xpn))

    def del_rxsa(self, ifindex, sci, an):
        return self.request(MACSEC_CMD_DEL_RXSA, rxsa_attrs(ifindex, sci, an))

    def set_offload(self, ifindex, offload):
        return self.request(MACSEC_CMD_UPD_OFFLOAD, offload_attrs(ifindex, offload))
