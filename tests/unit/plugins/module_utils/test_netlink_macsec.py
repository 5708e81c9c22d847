# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Message-level tests of the MACsec netlink layer: every expected byte is computed here with struct, from the
kernel's attribute layout (include/uapi/linux/if_macsec.h, if_link.h), not by pyroute2."""

from __future__ import annotations

import errno
import struct

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nm

pytest.importorskip('pyroute2')

from pyroute2.netlink.exceptions import NetlinkError  # noqa: E402
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg  # noqa: E402

NESTED = 0x8000
KEY128 = bytes(range(16))
KEY256 = bytes(range(32))
KEYID = bytes(range(0xa0, 0xb0))
SALT = bytes(range(0x40, 0x4c))
SCI = 0x525400123456_0001  # MAC 52:54:00:12:34:56, port 1


def attr(kind, payload):
    """One NLA: u16 length (header + payload, unpadded), u16 type, payload, zero padding to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack('=HH', length, kind) + payload + b'\0' * (-length % 4)


def nest(kind, *children, flag=NESTED):
    return attr(kind | flag, b''.join(children))


def u8(kind, value):
    return attr(kind, struct.pack('B', value))


def u32(kind, value):
    return attr(kind, struct.pack('=I', value))


def genl(cmd, body, msg_type=0, flags=0):
    """nlmsghdr (length, type, flags, seq, pid) + genlmsghdr (cmd, version 1, reserved) + attributes."""
    payload = struct.pack('=BBH', cmd, 1, 0) + body
    return struct.pack('=IHHII', 16 + len(payload), msg_type, flags, 0, 0) + payload


def encoded(cmd, attrs):
    msg = nm.build_message(cmd, attrs)
    msg.encode()
    return bytes(msg.data)


# --- requests ------------------------------------------------------------------------------------------------------

def test_add_txsa_128_bit_key_u32_pn():
    data = encoded(nm.MACSEC_CMD_ADD_TXSA, nm.add_txsa_attrs(7, 1, 5, KEY128, KEYID))
    expected = genl(4, u32(1, 7) + nest(3,
                                        u8(1, 1),                              # AN
                                        u8(2, 1),                              # ACTIVE
                                        attr(3, struct.pack('=I', 5)),         # PN, u32 without XPN
                                        attr(4, KEY128),                       # KEY
                                        attr(5, KEYID)))                       # KEYID, 16 bytes
    assert data == expected
    assert len(data) == 96


def test_add_txsa_takes_hex_strings():
    as_hex = encoded(nm.MACSEC_CMD_ADD_TXSA, nm.add_txsa_attrs(7, 1, 5, KEY128.hex(), KEYID.hex(':')))
    assert as_hex == encoded(nm.MACSEC_CMD_ADD_TXSA, nm.add_txsa_attrs(7, 1, 5, KEY128, KEYID))


def test_add_rxsa_xpn_u64_pn_big_endian_ssci_salt():
    pn = (1 << 40) + 3
    data = encoded(nm.MACSEC_CMD_ADD_RXSA,
                   nm.add_rxsa_attrs(9, SCI, 2, pn, KEY256, KEYID, ssci=0x01020304, salt=SALT))
    expected = genl(7, u32(1, 9)
                    + nest(2, attr(1, struct.pack('>Q', SCI)))                # RXSC_CONFIG: SCI big-endian
                    + nest(3,
                           u8(1, 2),
                           u8(2, 1),
                           attr(3, struct.pack('=Q', pn)),                    # PN u64 with XPN
                           attr(4, KEY256),
                           attr(5, KEYID),
                           attr(8, b'\x01\x02\x03\x04'),                      # SSCI big-endian u32
                           attr(9, SALT)))                                    # SALT, 12 bytes
    assert data == expected
    assert attr(1, struct.pack('>Q', SCI))[4:] == b'\x52\x54\x00\x12\x34\x56\x00\x01'


def test_add_rxsc_sci_big_endian():
    data = encoded(nm.MACSEC_CMD_ADD_RXSC, nm.rxsc_attrs(3, '52:54:00:12:34:56:00:01', active=True))
    expected = genl(1, u32(1, 3) + nest(2, attr(1, b'\x52\x54\x00\x12\x34\x56\x00\x01'), u8(2, 1)))
    assert data == expected


def test_update_and_delete_carry_only_what_the_kernel_takes():
    assert encoded(nm.MACSEC_CMD_DEL_TXSA, nm.txsa_attrs(7, 3)) == genl(5, u32(1, 7) + nest(3, u8(1, 3)))
    assert encoded(nm.MACSEC_CMD_UPD_TXSA, nm.txsa_attrs(7, 3, pn=1 << 33, active=False, xpn=True)) == \
        genl(6, u32(1, 7) + nest(3, u8(1, 3), u8(2, 0), attr(3, struct.pack('=Q', 1 << 33))))
    assert encoded(nm.MACSEC_CMD_DEL_RXSA, nm.rxsa_attrs(7, SCI, 0)) == \
        genl(8, u32(1, 7) + nest(2, attr(1, struct.pack('>Q', SCI))) + nest(3, u8(1, 0)))
    assert encoded(nm.MACSEC_CMD_DEL_RXSC, nm.rxsc_attrs(7, SCI)) == \
        genl(2, u32(1, 7) + nest(2, attr(1, struct.pack('>Q', SCI))))
    assert encoded(nm.MACSEC_CMD_UPD_OFFLOAD, nm.offload_attrs(7, 'phy')) == \
        genl(10, u32(1, 7) + nest(9, u8(1, 1)))


@pytest.mark.parametrize('call, words', [
    (lambda: nm.add_txsa_attrs(7, 4, 1, KEY128, KEYID), 'AN must be 0, 1, 2 or 3'),
    (lambda: nm.add_txsa_attrs(7, 0, 0, KEY128, KEYID), 'PN must be between 1'),
    (lambda: nm.add_txsa_attrs(7, 0, 1 << 32, KEY128, KEYID), 'PN must be between 1 and 4294967295'),
    (lambda: nm.add_txsa_attrs(7, 0, 1, KEY128[:15], KEYID), 'the key is 15 bytes: it must be 16 or 32 bytes'),
    (lambda: nm.add_txsa_attrs(7, 0, 1, KEY128, KEYID[:8]), 'the key id is 8 bytes: it must be 16 bytes'),
    (lambda: nm.add_txsa_attrs(7, 0, 1, KEY128, KEYID, ssci=1), 'with XPN needs salt'),
    (lambda: nm.add_rxsa_attrs(7, SCI, 0, 1, KEY128, KEYID, ssci=1, salt=SALT[:11]), 'the salt is 11 bytes'),
    (lambda: nm.add_txsa_attrs(7, 0, None, KEY128, KEYID), 'adding a TX SA needs pn'),
    (lambda: nm.add_txsa_attrs(0, 0, 1, KEY128, KEYID), 'ifindex must be a positive number'),
    (lambda: nm.rxsc_attrs(7, '5254001234'), 'not an SCI'),
    (lambda: nm.add_txsa_attrs(7, 0, 1, 'zz' * 16, KEYID), 'the key is not hex'),
])
def test_bad_values_are_refused_before_the_kernel_sees_them(call, words):
    with pytest.raises(ValueError) as caught:
        call()
    assert words in str(caught.value)


def test_sci_helpers():
    assert nm.make_sci('52:54:00:12:34:56', 1) == SCI
    assert nm.sci_int('5254001234560001') == SCI
    assert nm.format_sci(SCI) == '5254001234560001'


# --- dump replies --------------------------------------------------------------------------------------------------

def u64(kind, value):
    return attr(kind, struct.pack('=Q', value))


def dump_reply():
    """One MACSEC_CMD_GET_TXSC reply as drivers/net/macsec.c (dump_secy) lays it out, XPN SecY."""
    secy = nest(4,
                attr(1, struct.pack('>Q', SCI)),                    # SCI
                u64(4, 0x0080C20001000003),                         # CIPHER_SUITE: XPN-128
                u8(5, 16), u8(8, 1), u8(6, 1), u8(7, 1), u8(9, 2),  # ICV_LEN OPER PROTECT REPLAY VALIDATE
                u8(10, 1), u8(11, 0), u8(12, 0), u8(13, 0), u8(2, 1),  # ENCRYPT INC_SCI ES SCB ENCODING_SA
                u32(3, 32), flag=0)                                 # WINDOW
    txsc_stats = nest(7, u64(1, 10), u64(2, 11), u64(3, 1200), u64(4, 1300), flag=0)
    secy_stats = nest(8, u64(1, 0), u64(6, 4), flag=0)
    offload = nest(9, u8(1, 0), flag=0)

    def sa(an, pn, active, stats):
        return (nest(6, *[u32(i + 1, v) for i, v in enumerate(stats)], flag=0)
                + u8(1, an) + attr(3, struct.pack('=Q', pn)) + attr(5, KEYID)
                + attr(8, struct.pack('>I', 0x10 + an)) + u8(2, active))
    txsa_list = nest(5, attr(1, sa(0, 1 << 33, 1, [0, 0, 0, 0, 0, 10, 10])),
                     attr(2, sa(1, 7, 0, [0, 0, 0, 0, 0, 0, 0])), flag=0)
    rxsc = (u8(2, 1) + attr(1, struct.pack('>Q', 0x525400abcdef0001))
            + nest(4, u64(5, 9), u64(6, 1), flag=0)
            + nest(3, attr(1, sa(1, 12, 1, [9, 1, 0, 0, 0, 0, 0])), flag=0))
    rxsc_list = nest(6, attr(1, rxsc), flag=0)
    body = u32(1, 5) + secy + offload + txsc_stats + secy_stats + txsa_list + rxsc_list
    return genl(0, body, msg_type=0x1c, flags=2)


def test_dump_reply_decodes_to_plain_data():
    msg = nm.macsecmsg(dump_reply())
    msg.decode()
    sa_stats = ('in_pkts_ok', 'in_pkts_invalid', 'in_pkts_not_valid', 'in_pkts_not_using_sa', 'in_pkts_unused_sa',
                'out_pkts_protected', 'out_pkts_encrypted')
    assert nm.parse_secy(msg) == {
        'ifindex': 5,
        'secy': {
            'sci': '5254001234560001', 'cipher': 'gcm-aes-xpn-128', 'cipher_id': 0x0080C20001000003,
            'icv_len': 16, 'encoding_sa': 1, 'window': 32, 'validate': 'strict',
            'protect': True, 'replay_protect': True, 'oper': True, 'encrypt': True,
            'include_sci': False, 'end_station': False, 'scb': False,
        },
        'offload': 'off',
        'txsc_stats': {'out_pkts_protected': 10, 'out_pkts_encrypted': 11,
                       'out_octets_protected': 1200, 'out_octets_encrypted': 1300},
        'secy_stats': {'out_pkts_untagged': 0, 'in_pkts_unknown_sci': 4},
        'tx_sas': [
            {'an': 0, 'active': True, 'pn': 1 << 33, 'keyid': KEYID.hex(), 'ssci': 0x10,
             'stats': dict(zip(sa_stats, [0, 0, 0, 0, 0, 10, 10]))},
            {'an': 1, 'active': False, 'pn': 7, 'keyid': KEYID.hex(), 'ssci': 0x11,
             'stats': dict(zip(sa_stats, [0] * 7))},
        ],
        'rx_scs': [{
            'sci': '525400abcdef0001', 'active': True,
            'stats': {'in_pkts_ok': 9, 'in_pkts_invalid': 1},
            'sas': [{'an': 1, 'active': True, 'pn': 12, 'keyid': KEYID.hex(), 'ssci': 0x11,
                     'stats': dict(zip(sa_stats, [9, 1, 0, 0, 0, 0, 0]))}],
        }],
    }


def test_dump_of_a_u32_pn_and_an_empty_secy():
    body = u32(1, 4) + nest(5, attr(1, u8(1, 2) + attr(3, struct.pack('=I', 77)) + attr(5, KEYID)), flag=0)
    msg = nm.macsecmsg(genl(0, body))
    msg.decode()
    secy = nm.parse_secy(msg)
    assert secy['tx_sas'] == [{'an': 2, 'active': False, 'pn': 77, 'keyid': KEYID.hex(), 'stats': {}}]
    assert secy['rx_scs'] == [] and secy['secy'] == {} and secy['offload'] is None


# --- the macsec link kind (IFLA_INFO_DATA) -------------------------------------------------------------------------

def test_link_kind_is_registered():
    assert nm.link_kind_registry() in ('register_link_kind', 'data_map')
    assert nm.register_link_kind() is True
    assert ifinfmsg.ifinfo.data_map['macsec'] is nm.macsec_data


def link_message(info_data):
    msg = ifinfmsg()
    msg['attrs'] = [['IFLA_IFNAME', 'macsec0'], ['IFLA_LINK', 3],
                    ['IFLA_LINKINFO', {'attrs': [['IFLA_INFO_KIND', 'macsec'],
                                                 ['IFLA_INFO_DATA', {'attrs': list(info_data.items())}]]}]]
    msg.encode()
    return bytes(msg.data)


def test_link_info_data_encodes_as_the_kernel_reads_it():
    data = link_message(nm.link_data(cipher='gcm-aes-256', icv_len=16, encrypt=True, port=5, validate='check'))
    expected_info_data = nest(2,                                          # IFLA_INFO_DATA
                              attr(4, struct.pack('=Q', 0x0080C20001000002)),  # CIPHER_SUITE u64
                              u8(3, 16),                                  # ICV_LEN
                              attr(2, b'\x00\x05'),                       # PORT be16
                              u8(13, 1),                                  # VALIDATION check
                              u8(7, 1), flag=0)                           # ENCRYPT
    assert expected_info_data in data
    assert attr(1, b'macsec\0') in data                                  # IFLA_INFO_KIND


def test_link_info_data_decodes_to_plain_data():
    msg = ifinfmsg(link_message(nm.link_data(cipher='gcm-aes-256', icv_len=16, encrypt=True, port=5,
                                             validate='check')))
    msg.decode()
    info_data = msg.get_attr('IFLA_LINKINFO').get_attr('IFLA_INFO_DATA')
    assert nm.parse_link_data(info_data) == {'cipher': 'gcm-aes-256', 'icv_len': 16, 'encrypt': True, 'port': 5,
                                             'validate': 'check'}


def test_link_dump_with_legacy_cipher_id_and_sci():
    """What the kernel reports (macsec_fill_info): the legacy id for GCM-AES-128, the SCI big-endian."""
    info_data = nest(2, attr(1, struct.pack('>Q', SCI)), attr(14, b''), u8(3, 16),
                     attr(4, struct.pack('=Q', 0x0080020001000001)), u8(6, 0), u8(7, 1), u8(8, 1), u8(9, 0),
                     u8(10, 0), u8(11, 0), u8(12, 0), u8(13, 2), u8(15, 0), flag=0)
    linkinfo = nest(18, attr(1, b'macsec\0'), info_data, flag=0)
    body = struct.pack('=BxHiII', 0, 1, 9, 0, 0) + attr(3, b'macsec0\0') + linkinfo
    msg = ifinfmsg(struct.pack('=IHHII', 16 + len(body), 16, 0, 0, 0) + body)
    msg.decode()
    assert nm.parse_link_data(msg.get_attr('IFLA_LINKINFO').get_attr('IFLA_INFO_DATA')) == {
        'sci': '5254001234560001', 'port': 1, 'cipher': 'gcm-aes-128', 'icv_len': 16, 'encoding_sa': 0,
        'encrypt': True, 'protect': True, 'include_sci': False, 'end_station': False, 'scb': False,
        'replay_protect': False, 'validate': 'strict', 'offload': 'off'}


def test_iproute_keywords_reach_info_data():
    """link('add', kind='macsec', ...) goes through pyroute2's request filters, which look the kind up in
    data_map; rebuild that path without a socket (0.7: apply_filter, 0.9: add_filter)."""
    from pyroute2.requests.link import LinkFieldFilter, LinkIPRouteFilter
    from pyroute2.requests.main import RequestProcessor

    data = nm.link_data(cipher='gcm-aes-128', encrypt=None)
    kwarg = dict(ifname='macsec0', kind='macsec', link=3, port=2, encrypt=1, **data)
    request = RequestProcessor(context=dict(kwarg), prime=dict(kwarg))
    add = getattr(request, 'add_filter', None) or getattr(request, 'apply_filter')
    add(LinkFieldFilter())
    add(LinkIPRouteFilter('add'))
    request.finalize()
    msg = ifinfmsg()
    for key, value in request.items():
        name = ifinfmsg.name2nla(key)
        if msg.valid_nla(name) and value is not None:
            msg['attrs'].append([name, value])
    msg.encode()
    back = ifinfmsg(msg.data)
    back.decode()
    linkinfo = back.get_attr('IFLA_LINKINFO')
    assert linkinfo.get_attr('IFLA_INFO_KIND') == 'macsec'
    assert nm.parse_link_data(linkinfo.get_attr('IFLA_INFO_DATA')) == {
        'cipher': 'gcm-aes-128', 'icv_len': 16, 'validate': 'strict', 'port': 2, 'encrypt': True}


@pytest.mark.parametrize('kwargs, words', [
    (dict(sci=SCI, port=2), 'the SCI or the port'),
    (dict(icv_len=33), 'ICV length'),
    (dict(validate='lax'), 'validate must be one of'),
    (dict(cipher='aes-gcm-128'), 'unknown cipher'),
    (dict(port=0), 'port must be between 1 and 65535'),
])
def test_bad_link_data(kwargs, words):
    with pytest.raises(ValueError) as caught:
        nm.link_data(**kwargs)
    assert words in str(caught.value)


# --- ciphers and errors --------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name, value', [
    ('gcm-aes-128', 0x0080C20001000001),
    ('gcm-aes-256', 0x0080C20001000002),
    ('gcm-aes-xpn-128', 0x0080C20001000003),
    ('gcm-aes-xpn-256', 0x0080C20001000004),
])
def test_cipher_ids(name, value):
    assert nm.cipher_id(name) == value
    assert nm.cipher_name(value) == name


def test_legacy_cipher_id_is_gcm_aes_128():
    assert nm.cipher_name(0x0080020001000001) == 'gcm-aes-128'
    assert nm.cipher_name(0x1234) == '0x0000000000001234'


def test_error_messages():
    del_txsa = nm.txsa_attrs(7, 2)
    assert nm.explain_error(errno.EBUSY, nm.MACSEC_CMD_DEL_TXSA, del_txsa) == \
        'cannot delete the TX SA (AN 2): AN 2 is in use: an active SA cannot be deleted; deactivate it first'
    add_txsa = nm.add_txsa_attrs(7, 0, 1, KEY128, KEYID)
    assert 'MACSEC_SA_ATTR_KEY' in nm.explain_error(errno.EINVAL, nm.MACSEC_CMD_ADD_TXSA, add_txsa)
    assert 'bad key length' in nm.explain_error(errno.EINVAL, nm.MACSEC_CMD_ADD_TXSA, del_txsa, 'bad key length')
    assert nm.explain_error(errno.ENOENT, nm.MACSEC_CMD_DEL_RXSC, nm.rxsc_attrs(7, SCI)) == \
        'cannot delete the RX SC (SCI 5254001234560001): no such RX SC'
    assert 'exists already' in nm.explain_error(errno.EEXIST, nm.MACSEC_CMD_ADD_RXSA, nm.rxsa_attrs(7, SCI, 0))
    assert 'the kernel has no macsec support (modprobe macsec)' in nm.explain_error(errno.ENODEV)


class FakeSocket(nm.MacsecSocket):
    """The request path of MacsecSocket without a netlink socket: nlm_request is replaced."""

    def __init__(self, error=None, replies=()):  # pylint: disable=super-init-not-called
        self.error = error
        self.replies = list(replies)
        self.sent = []

    prid = 0x1c

    def nlm_request(self, msg, msg_type, msg_flags):
        self.sent.append((msg, msg_type, msg_flags))
        if self.error:
            raise self.error
        return iter(self.replies)

    def __del__(self):
        pass


def test_socket_turns_kernel_errors_into_messages():
    sock = FakeSocket(error=NetlinkError(errno.EBUSY))
    with pytest.raises(nm.MacsecError) as caught:
        sock.del_txsa(7, 1)
    assert caught.value.code == errno.EBUSY
    assert str(caught.value).endswith('AN 1 is in use: an active SA cannot be deleted; deactivate it first')
    msg, msg_type, flags = sock.sent[0]
    assert (msg['cmd'], msg_type, flags) == (nm.MACSEC_CMD_DEL_TXSA, 0x1c, 0x1 | 0x4)


def test_socket_dump_parses_and_filters():
    reply = nm.macsecmsg(dump_reply())
    reply.decode()
    sock = FakeSocket(replies=[reply])
    assert [secy['ifindex'] for secy in sock.dump()] == [5]
    assert sock.dump(ifindex=6) == []
    assert sock.sent[0][2] == 0x1 | 0x300
