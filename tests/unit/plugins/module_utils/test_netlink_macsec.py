# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Message-level tests of the MACsec netlink layer: every expected byte is computed here with struct, from the
kernel's attribute layout (include/uapi/linux/if_macsec.h, if_link.h), not by pyroute2."""

from __future__ import annotations

import errno
import struct

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nm
from ansible_collections.l2sec.macsec.tests.unit.plugins.module_utils import fake_kernel

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


def dump_reply(suite=0x0080C20001000003):
    """One MACSEC_CMD_GET_TXSC reply as drivers/net/macsec.c (dump_secy) lays it out, XPN SecY by default."""
    secy = nest(4,
                attr(1, struct.pack('>Q', SCI)),                    # SCI
                u64(4, suite),                                      # CIPHER_SUITE: XPN-128
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
    data_map (fake_kernel.through_pyroute2 runs that path without a socket)."""
    data = nm.link_data(cipher='gcm-aes-128', encrypt=None)
    back = fake_kernel.through_pyroute2(dict(ifname='macsec0', kind='macsec', link=3, port=2, encrypt=1, **data))
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


# --- what the Linux 6.1 kernel taught (tests/lab/netlink_proof.py) -------------------------------------------------

def test_pyroute2_iproute_is_exported():
    from pyroute2.iproute import IPRoute

    assert nm.IPRoute is IPRoute


def test_link_data_without_cipher_and_icv_len_for_changelink():
    """macsec_changelink refuses the whole change (EINVAL) when CIPHER_SUITE or ICV_LEN is in it, even at the
    value the link has: None leaves them out."""
    data = link_message(nm.link_data(cipher=None, icv_len=None, encrypt=False, validate=None))
    assert nest(2, u8(7, 0), flag=0) in data                               # IFLA_INFO_DATA: only ENCRYPT off


@pytest.mark.parametrize('kwargs', [
    dict(encrypt=False), dict(validate='check'), dict(window=64), dict(encoding_sa=2), dict(protect=False),
    dict(end_station=True), dict(scb=True), dict(include_sci=False), dict(replay_protect=False),
])
def test_change_link_data_has_no_recreate_attribute(kwargs):
    data = nm.change_link_data(**kwargs)
    assert data
    assert not set(data) & {'IFLA_MACSEC_CIPHER_SUITE', 'IFLA_MACSEC_ICV_LEN', 'IFLA_MACSEC_SCI', 'IFLA_MACSEC_PORT',
                            'IFLA_MACSEC_OFFLOAD'}
    assert nm.RECREATE_OPTIONS == ('cipher', 'icv_len', 'sci', 'port')


def test_change_link_data_bytes():
    data = link_message(nm.change_link_data(window=64, validate='check'))
    assert nest(2, u8(13, 1), u32(5, 64), u8(12, 1), flag=0) in data       # VALIDATION, WINDOW, REPLAY_PROTECT


@pytest.mark.parametrize('icv_len', [8, 12, 16])
def test_icv_len_the_kernel_takes(icv_len):
    assert nm.link_data(icv_len=icv_len)['IFLA_MACSEC_ICV_LEN'] == icv_len


@pytest.mark.parametrize('kwargs, words', [
    (dict(icv_len=17), 'between 8 and 16'),             # MACSEC_STD_ICV_LEN is 16: the kernel says EINVAL
    (dict(icv_len=7), 'between 8 and 16'),
    (dict(replay_protect=True), 'needs a window'),     # EINVAL without IFLA_MACSEC_WINDOW in the same request
    (dict(include_sci=True, end_station=True), 'excludes end_station and scb'),
    (dict(include_sci=True, scb=True), 'excludes end_station and scb'),
    (dict(end_station=True, scb=True), 'exclude each other'),
    (dict(cipher='gcm-aes-xpn-128', window=1 << 30), 'at most 1073741823'),
    (dict(sci=SCI, include_sci=False), 'explicit SCI needs include_sci'),
    (dict(sci=SCI, end_station=True), 'explicit SCI needs include_sci'),
    (dict(window=1 << 32), 'a 32-bit number'),
])
def test_link_data_refuses_what_the_kernel_refuses(kwargs, words):
    with pytest.raises(ValueError) as caught:
        nm.link_data(**kwargs)
    assert words in str(caught.value)


def test_link_data_boundaries_the_kernel_takes():
    assert nm.link_data(cipher='gcm-aes-xpn-256', window=(1 << 30) - 1)['IFLA_MACSEC_WINDOW'] == (1 << 30) - 1
    assert nm.link_data(cipher='gcm-aes-128', window=1 << 31)['IFLA_MACSEC_WINDOW'] == 1 << 31
    assert nm.link_data(sci=SCI, include_sci=True)['IFLA_MACSEC_INC_SCI'] == 1
    assert 'IFLA_MACSEC_INC_SCI' not in nm.link_data(sci=SCI)


@pytest.mark.parametrize('flag, nla', [('end_station', 10), ('scb', 11)])
def test_end_station_and_scb_turn_include_sci_off(flag, nla):
    """The kernel sends the SCI by default, and with it neither the ES nor the SCB bit: asking for either
    without include_sci turns include_sci off (an explicit include_sci=True is refused above)."""
    data = nm.link_data(**{flag: True})
    assert (data['IFLA_MACSEC_INC_SCI'], data['IFLA_MACSEC_' + ('ES' if flag == 'end_station' else 'SCB')]) == (0, 1)
    assert u8(9, 0) + u8(nla, 1) in link_message(data)
    assert 'IFLA_MACSEC_INC_SCI' not in nm.link_data(**{flag: False})


def test_key_length():
    assert [nm.key_length(name) for name in nm.CIPHER_IDS] == [16, 32, 16, 32]


# errors ----------------------------------------------------------------------------------------------------------

def secy_of(suite=0x0080C20001000003):
    msg = nm.macsecmsg(dump_reply(suite))
    msg.decode()
    return nm.parse_secy(msg)


def test_ebusy_on_add_is_a_taken_an_not_an_active_sa():
    """Linux 6.1 answers EBUSY (not EEXIST) to an SA added at an AN that is taken."""
    assert nm.explain_error(errno.EBUSY, nm.MACSEC_CMD_ADD_TXSA, nm.add_txsa_attrs(7, 2, 1, KEY128, KEYID)) == \
        'cannot add the TX SA (AN 2): AN 2 exists already: update that SA, or delete it first'
    assert nm.explain_error(errno.EBUSY, nm.MACSEC_CMD_ADD_RXSA, nm.add_rxsa_attrs(7, SCI, 1, 1, KEY128, KEYID)) == \
        'cannot add the RX SA (AN 1, SCI 5254001234560001): AN 1 exists already: update that SA, or delete it first'
    assert 'deactivate it first' in nm.explain_error(errno.EBUSY, nm.MACSEC_CMD_DEL_RXSA, nm.rxsa_attrs(7, SCI, 1))


def test_enodev_is_what_61_says_for_a_missing_sc_or_sa():
    """Linux 6.1 says ENODEV (not ENOENT) for a missing RX SC or SA, as for an ifindex that is no SecY."""
    secy = secy_of()
    other = 0x525400abcdef0002
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_DEL_RXSC, nm.rxsc_attrs(5, other), secy=secy) == \
        'cannot delete the RX SC (SCI 525400abcdef0002): no RX SC 525400abcdef0002 on interface 5'
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_ADD_RXSA, nm.rxsa_attrs(5, other, 0), secy=secy) == \
        'cannot add the RX SA (AN 0, SCI 525400abcdef0002): no RX SC 525400abcdef0002 on interface 5'
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_UPD_RXSA, nm.rxsa_attrs(5, 0x525400abcdef0001, 3),
                            secy=secy) == \
        'cannot update the RX SA (AN 3, SCI 525400abcdef0001): no RX SA with AN 3 on RX SC 525400abcdef0001'
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_DEL_TXSA, nm.txsa_attrs(5, 3), secy=secy) == \
        'cannot delete the TX SA (AN 3): no TX SA with AN 3'
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_DEL_TXSA, nm.txsa_attrs(9, 3), secy=False) == \
        'cannot delete the TX SA (AN 3): interface 9 is not a MACsec interface (or does not exist)'
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_DEL_TXSA, nm.txsa_attrs(9, 3)) == \
        'cannot delete the TX SA (AN 3): no such SA, or interface 9 is not a MACsec interface'
    assert nm.explain_error(errno.ENODEV, nm.MACSEC_CMD_UPD_RXSC, nm.rxsc_attrs(9, SCI, True)) == \
        'cannot update the RX SC (SCI 5254001234560001): no such RX SC, or interface 9 is not a MACsec interface'


@pytest.mark.parametrize('cmd, attrs, suite, words', [
    (nm.MACSEC_CMD_ADD_TXSA, nm.add_txsa_attrs(5, 2, 1, KEY256, KEYID), 0x0080020001000001,
     "the key is 32 bytes, the SecY's cipher gcm-aes-128 takes 16-byte keys"),
    (nm.MACSEC_CMD_ADD_RXSA, nm.add_rxsa_attrs(5, SCI, 2, 1, KEY128, KEYID, ssci=1, salt=SALT), 0x0080C20001000004,
     "the key is 16 bytes, the SecY's cipher gcm-aes-xpn-256 takes 32-byte keys"),
    (nm.MACSEC_CMD_UPD_TXSA, nm.txsa_attrs(5, 0, pn=7), 0x0080C20001000003,
     "the PN was sent as 32 bits, the SecY's cipher gcm-aes-xpn-128 takes 64-bit PNs"),
    (nm.MACSEC_CMD_ADD_TXSA, nm.add_txsa_attrs(5, 2, 1, KEY128, KEYID, ssci=1, salt=SALT), 0x0080020001000001,
     "the PN was sent as 64 bits, the SecY's cipher gcm-aes-128 takes 32-bit PNs"),
    (nm.MACSEC_CMD_ADD_TXSA, nm.txsa_attrs(5, 2, 1, KEY128, KEYID, True, xpn=True), 0x0080C20001000003,
     "the SecY's cipher gcm-aes-xpn-128 is XPN: an SA needs ssci and salt"),
    (nm.MACSEC_CMD_ADD_TXSA, [('MACSEC_ATTR_IFINDEX', 5), ('MACSEC_ATTR_SA_CONFIG', {'attrs': [
        ('MACSEC_SA_ATTR_AN', 2), ('MACSEC_SA_ATTR_PN', b'\x01\0\0\0'), ('MACSEC_SA_ATTR_KEY', KEY128),
        ('MACSEC_SA_ATTR_KEYID', KEYID[:8])]})], 0x0080020001000001, 'the key id is 8 bytes, the kernel takes 16'),
])
def test_einval_says_what_is_wrong_when_the_secy_is_known(cmd, attrs, suite, words):
    text = nm.explain_error(errno.EINVAL, cmd, attrs, secy=secy_of(suite))
    assert text.startswith('cannot ') and words in text


def test_eopnotsupp_of_the_offload():
    assert nm.explain_error(errno.EOPNOTSUPP, nm.MACSEC_CMD_UPD_OFFLOAD, nm.offload_attrs(7, 'phy')) == \
        "cannot change the offload: the lower device of interface 7 offers no MACsec offload 'phy' (only 'off' " \
        "works on it)"


@pytest.mark.parametrize('code, action, data, words', [
    (errno.EINVAL, 'set', {'IFLA_MACSEC_ENCRYPT': 0, 'IFLA_MACSEC_PORT': 3},
     'cannot change the MACsec interface macsec0: port cannot change on an existing MACsec interface (the kernel '
     'refuses the whole change): delete the interface and create it again'),
    (errno.EINVAL, 'set', nm.link_data(encrypt=False),
     'cipher, icv_len cannot change on an existing MACsec interface'),
    (errno.EINVAL, 'add', nm.link_data(port=3), 'replay protection needs a window'),
    (errno.EBUSY, 'add', nm.link_data(port=3),
     'cannot create the MACsec interface macsec0: the parent already carries a SecY with this SCI (port 3): '
     'choose another port'),
    (errno.EEXIST, 'add', {}, 'an interface of that name exists already'),
    (errno.EOPNOTSUPP, 'add', nm.link_data(port=3, offload='mac'), "the parent offers no MACsec offload 'mac'"),
    (errno.EOPNOTSUPP, 'add', nm.link_data(port=3), nm.NO_MACSEC),
    (errno.ENODEV, 'add', {}, 'no such parent interface'),
])
def test_link_errors(code, action, data, words):
    error = nm.link_error(NetlinkError(code), action, data, 'macsec0')
    assert isinstance(error, nm.MacsecError) and error.code == code
    assert words in error.message


class FakeKernel(FakeSocket):
    """Refuses the commands in `refuse` with an errno, answers dumps with `replies`."""

    def __init__(self, refuse=None, replies=()):
        super().__init__(replies=replies)
        self.refuse = refuse or {}

    def nlm_request(self, msg, msg_type, msg_flags):
        self.sent.append((msg, msg_type, msg_flags))
        if msg['cmd'] in self.refuse:
            raise NetlinkError(self.refuse[msg['cmd']])
        return iter(self.replies if msg['cmd'] == nm.MACSEC_CMD_GET_TXSC else ())


def reply(suite=0x0080C20001000003):
    msg = nm.macsecmsg(dump_reply(suite))
    msg.decode()
    return msg


def test_socket_looks_the_secy_up_to_explain_enodev_and_einval():
    sock = FakeKernel(refuse={nm.MACSEC_CMD_DEL_TXSA: errno.ENODEV, nm.MACSEC_CMD_ADD_RXSA: errno.EINVAL},
                      replies=[reply(0x0080020001000001)])
    with pytest.raises(nm.MacsecError) as caught:
        sock.del_txsa(5, 3)
    assert (caught.value.code, caught.value.message) == (errno.ENODEV, 'cannot delete the TX SA (AN 3): no TX SA with AN 3')
    with pytest.raises(nm.MacsecError) as caught:
        sock.del_txsa(6, 3)
    assert 'interface 6 is not a MACsec interface' in caught.value.message
    with pytest.raises(nm.MacsecError) as caught:
        sock.add_rxsa(5, 0x525400abcdef0001, 2, 1, KEY256, KEYID)
    assert 'takes 16-byte keys' in caught.value.message
    assert [sent[0]['cmd'] for sent in sock.sent] == [nm.MACSEC_CMD_DEL_TXSA, nm.MACSEC_CMD_GET_TXSC] * 2 + \
        [nm.MACSEC_CMD_ADD_RXSA, nm.MACSEC_CMD_GET_TXSC]


def test_socket_does_not_look_up_for_ebusy():
    sock = FakeKernel(refuse={nm.MACSEC_CMD_ADD_TXSA: errno.EBUSY}, replies=[reply()])
    with pytest.raises(nm.MacsecError) as caught:
        sock.add_txsa(5, 0, 1, KEY128, KEYID)
    assert caught.value.code == errno.EBUSY and 'AN 0 exists already' in caught.value.message
    assert len(sock.sent) == 1


@pytest.mark.parametrize('suite, pn_bytes', [(0x0080C20001000004, struct.pack('=Q', 5)),
                                             (0x0080020001000001, struct.pack('=I', 5))])
def test_update_sends_the_pn_at_the_size_of_the_secy(suite, pn_bytes):
    """The kernel takes a PN only at the SecY's size: xpn=None (the default) asks the dump."""
    sock = FakeKernel(replies=[reply(suite)])
    sock.update_txsa(5, 1, pn=5)
    sock.update_rxsa(5, 0x525400abcdef0001, 1, pn=5, active=True)
    updates = [sent[0] for sent in sock.sent if sent[0]['cmd'] != nm.MACSEC_CMD_GET_TXSC]
    for msg in updates:
        msg.encode()
    assert bytes(updates[0].data) == genl(6, u32(1, 5) + nest(3, u8(1, 1), attr(3, pn_bytes)))
    assert bytes(updates[1].data) == genl(9, u32(1, 5) + nest(2, attr(1, struct.pack('>Q', 0x525400abcdef0001)))
                                          + nest(3, u8(1, 1), u8(2, 1), attr(3, pn_bytes)))


def test_update_without_pn_or_with_xpn_given_does_not_look_up():
    sock = FakeKernel(replies=[reply()])
    sock.update_txsa(5, 1, active=False)
    sock.update_txsa(5, 1, pn=5, xpn=False)
    sock.update_rxsa(5, SCI, 1, pn=5, xpn=True)
    assert [sent[0]['cmd'] for sent in sock.sent] == [nm.MACSEC_CMD_UPD_TXSA, nm.MACSEC_CMD_UPD_TXSA,
                                                      nm.MACSEC_CMD_UPD_RXSA]


class Pyroute207Socket(nm.MacsecSocket):
    """The request path of pyroute2 0.7: addr_pool, lock, put and get; its nlm_request would retry EBUSY."""

    prid = 0x1c

    class Pool:
        def __init__(self):
            self.freed = []

        def alloc(self):
            return 42

        def free(self, seq, ban=0):
            self.freed.append((seq, ban))

    class Lock:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def __init__(self, error=None):  # pylint: disable=super-init-not-called
        self.addr_pool = self.Pool()
        self.lock = {42: self.Lock()}
        self.error = error
        self.puts = []

    def nlm_request(self, *argv, **kwargs):
        raise AssertionError('0.7 nlm_request sends a request 30 times when the kernel says EBUSY')

    def put(self, msg, msg_type, msg_flags, msg_seq=0):
        self.puts.append((msg['cmd'], msg_type, msg_flags, msg_seq))

    def get(self, msg_seq=0):
        if self.error:
            raise NetlinkError(self.error)
        return ()

    def __del__(self):
        pass


def test_pyroute2_07_requests_are_sent_once():
    sock = Pyroute207Socket(error=errno.EBUSY)
    with pytest.raises(nm.MacsecError) as caught:
        sock.del_txsa(5, 0)
    assert caught.value.code == errno.EBUSY
    assert sock.puts == [(nm.MACSEC_CMD_DEL_TXSA, 0x1c, 0x5, 42)]
    assert sock.addr_pool.freed == [(42, 0xFF)]
    ok = Pyroute207Socket()
    assert ok.add_rxsc(5, SCI) == []
    assert ok.puts == [(nm.MACSEC_CMD_ADD_RXSC, 0x1c, 0x5, 42)]
