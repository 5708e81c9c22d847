# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Key generation, validation, derivation and fingerprints (plugins/module_utils/_keys.py)."""

from __future__ import annotations

import hashlib
import itertools
import pathlib
import random
import re

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _keys

MASTER_HEX = '5c' * 8 + '0123456789abcdef' * 3
MASTER = bytes.fromhex(MASTER_HEX)
DOCS = pathlib.Path(__file__).resolve().parents[4] / 'docs' / 'keys.md'


# ---------------------------------------------------------------------------------------------------------------
# RFC 5869 appendix A, test cases 1 to 3 (SHA-256), through the function every derived key goes through.

RFC5869 = [
    (bytes.fromhex('0b' * 22), bytes(range(0x00, 0x0d)), bytes(range(0xf0, 0xfa)), 42,
     '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'),
    (bytes(range(0x00, 0x50)), bytes(range(0x60, 0xb0)), bytes(range(0xb0, 0x100)), 82,
     'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09'
     'da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87'),
    (bytes.fromhex('0b' * 22), b'', b'', 42,
     '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8'),
]


@pytest.mark.parametrize('ikm, salt, info, length, okm', RFC5869, ids=['case1', 'case2', 'case3'])
def test_hkdf_sha256_matches_rfc5869(ikm, salt, info, length, okm):
    assert _keys.hkdf_sha256(ikm, salt, info, length).hex() == okm


def test_every_derived_key_goes_through_hkdf_sha256(monkeypatch):
    """The known-answer tests above cover derivation only if derive() really calls hkdf_sha256."""
    calls = []
    real = _keys.hkdf_sha256

    def recording(ikm, salt, info, length):
        calls.append((ikm, salt, info, length))
        return real(ikm, salt, info, length)

    monkeypatch.setattr(_keys, 'hkdf_sha256', recording)
    sak = _keys.derive_sak(MASTER, 'rack1-ab', 3, 'gcm-aes-256', 'node-a', 'eth1', 1)
    assert len(calls) == 1
    ikm, salt, info, length = calls[0]
    assert (ikm, salt, length) == (MASTER, _keys.HKDF_SALT, 32)
    assert _keys.decode_context(info) == ['l2sec.macsec', '1', 'sak', '32', 'rack1-ab', '3', 'gcm-aes-256',
                                          'node-a', 'eth1', '1']
    assert real(MASTER, _keys.HKDF_SALT, info, 32).hex() == sak


def _hkdf_by_hand(ikm, salt, info, length):
    """RFC 5869 written out with hmac, independent of cryptography."""
    import hmac
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, block = b'', b''
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def test_derivation_agrees_with_a_hand_written_hkdf():
    for purpose, length in ((_keys.PURPOSE_CAK, 16), (_keys.PURPOSE_XPN_SALT, 12), (_keys.PURPOSE_IPSEC_PSK, 32)):
        info = _keys.encode_context(_keys.context(purpose, length, 'seg-9', 7))
        expected = _hkdf_by_hand(MASTER, _keys.HKDF_SALT, info, length)
        assert _keys.derive(MASTER, purpose, length, 'seg-9', 7) == expected


def test_the_auditor_snippet_in_docs_recomputes_the_keys():
    """docs/keys.md carries a few lines of Python for auditors: they must give the same keys as the code."""
    text = DOCS.read_text(encoding='utf-8')
    blocks = re.findall(r'```python\n(.*?)```', text, re.S)
    snippet = next(block for block in blocks if 'def l2sec_key' in block)
    namespace = {}
    exec(compile(snippet, str(DOCS), 'exec'), namespace)  # pylint: disable=exec-used
    recompute = namespace['l2sec_key']
    assert recompute(MASTER_HEX, 'sak', 16, 'rack1-ab', 2, 'gcm-aes-128', 'node-a', 'eth1', 1) == \
        _keys.derive_sak(MASTER, 'rack1-ab', 2, 'gcm-aes-128', 'node-a', 'eth1', 1)
    assert recompute(MASTER_HEX, 'mka-cak', 16, 'mka-ab', 1) == _keys.derive_cak(MASTER, 'mka-ab', 1)
    assert recompute(MASTER_HEX, 'mka-ckn', 16, 'mka-ab', 1) == _keys.derive_ckn(MASTER, 'mka-ab', 1)
    assert recompute(MASTER_HEX, 'xpn-salt', 12, 'x', 4) == _keys.derive_salt(MASTER, 'x', 4)
    assert recompute(MASTER_HEX, 'ipsec-psk', 32, 'x', 4) == _keys.derive_ipsec_psk(MASTER, 'x', 4)
    key_id = namespace['l2sec_key_id']
    sak = _keys.derive_sak(MASTER, 'rack1-ab', 2, 'gcm-aes-128', 'node-a', 'eth1', 1)
    assert key_id(sak) == _keys.key_id(sak)


# ---------------------------------------------------------------------------------------------------------------
# The context encoding is injective.

def test_separators_inside_fields_do_not_collide():
    pairs = [
        (('a/b', 'c'), ('a', 'b/c')),
        (('ab', ''), ('a', 'b')),
        (('', 'ab'), ('ab', '')),
        (('1', '2'), ('12',)),
        (('a\x00', 'b'), ('a', '\x00b')),
        (('x',), ('x', '')),
    ]
    for left, right in pairs:
        assert _keys.encode_context(left) != _keys.encode_context(right), (left, right)


def _random_field(rng):
    alphabet = 'ab/-_.:|\x00 1\u00e9\u2603'
    return ''.join(rng.choice(alphabet) for dummy in range(rng.randrange(0, 6)))


def test_context_encoding_round_trips_and_is_injective_over_random_tuples():
    rng = random.Random(5869)
    seen = {}
    for dummy in range(20000):
        fields = tuple(_random_field(rng) for dummy in range(rng.randrange(0, 5)))
        encoded = _keys.encode_context(fields)
        assert tuple(_keys.decode_context(encoded)) == fields
        assert seen.setdefault(encoded, fields) == fields, 'two contexts share one encoding'
    assert len(seen) > 5000  # the generator does produce many distinct tuples


def test_context_encoding_refuses_what_it_cannot_encode_unambiguously():
    for bad in ([True], [None], [1.5], [-1], [b'bytes']):
        with pytest.raises((TypeError, ValueError)):
            _keys.encode_context(bad)
    with pytest.raises(ValueError):
        _keys.encode_context(['x' * 65536])
    with pytest.raises(ValueError):
        _keys.context('no-such-purpose', 16, 'l', 1)


# ---------------------------------------------------------------------------------------------------------------
# Different links, ends, purposes, generations and lengths never share a key.

LINK_NAMES = ['a', 'b', 'ab', 'a-b', 'a.b', 'rack1-ab', 'rack1-a', 'b-rack1-a', 'A']
HOSTS = [('node-a', 'eth1', 1), ('node-a', 'eth1', 2), ('node-a', 'eth2', 1), ('node-b', 'eth1', 1),
         ('node-aeth1', '', 1), ('node-a', 'eth11', 1), ('node-ae', 'th1', 1)]


def test_keys_differ_across_links_ends_generations_ciphers_and_purposes():
    keys = {}
    for link, generation in itertools.product(LINK_NAMES, (1, 2, 3, 11, 12, 4294967295)):
        keys[('cak', link, generation)] = _keys.derive_cak(MASTER, link, generation)
        keys[('cak32', link, generation)] = _keys.derive_cak(MASTER, link, generation, 32)
        keys[('ckn', link, generation)] = _keys.derive_ckn(MASTER, link, generation)
        keys[('salt', link, generation)] = _keys.derive_salt(MASTER, link, generation)
        keys[('psk', link, generation)] = _keys.derive_ipsec_psk(MASTER, link, generation)
        keys[('radius', link, generation)] = _keys.derive_radius_secret(MASTER, link, generation)
        for cipher in _keys.SAK_BYTES:
            for end in HOSTS:
                keys[('sak', link, generation, cipher) + end] = _keys.derive_sak(MASTER, link, generation, cipher,
                                                                                 *end)
    assert len(keys) == len(set(keys.values())), 'two different contexts derived the same key'
    # No key is a prefix of another: the length is part of the context.
    values = sorted(keys.values())
    for shorter, longer in zip(values, values[1:]):
        assert not longer.startswith(shorter)


def test_a_16_byte_key_is_not_the_first_half_of_the_32_byte_key():
    assert not _keys.derive_cak(MASTER, 'l', 1, 32).startswith(_keys.derive_cak(MASTER, 'l', 1, 16))
    assert not _keys.derive_sak(MASTER, 'l', 1, 'gcm-aes-256', 'h', 'eth1', 1).startswith(
        _keys.derive_sak(MASTER, 'l', 1, 'gcm-aes-128', 'h', 'eth1', 1))


def test_keys_depend_on_the_master_secret_and_are_deterministic():
    other = bytes.fromhex('5d' + MASTER_HEX[2:])
    assert _keys.derive_cak(MASTER, 'l', 1) == _keys.derive_cak(MASTER, 'l', 1)
    assert _keys.derive_cak(MASTER, 'l', 1) != _keys.derive_cak(other, 'l', 1)


def test_derived_lengths():
    assert len(_keys.derive_cak(MASTER, 'l', 1)) == 32
    assert len(_keys.derive_cak(MASTER, 'l', 1, 32)) == 64
    assert len(_keys.derive_ckn(MASTER, 'l', 1)) == 32
    assert len(_keys.derive_salt(MASTER, 'l', 1)) == 24
    assert len(_keys.derive_ipsec_psk(MASTER, 'l', 1)) == 64
    for cipher, size in _keys.SAK_BYTES.items():
        assert len(_keys.derive_sak(MASTER, 'l', 1, cipher, 'h', 'eth1', 1)) == 2 * size
    with pytest.raises(ValueError):
        _keys.derive_cak(MASTER, 'l', 1, 24)
    with pytest.raises(ValueError):
        _keys.derive(b'short', _keys.PURPOSE_CAK, 16, 'l', 1)


# ---------------------------------------------------------------------------------------------------------------
# SSCIs, key ids and fingerprints.

def test_sscis_are_one_based_positions_in_host_interface_port_order():
    ends = [{'host': 'node-c', 'interface': 'eth1'}, {'host': 'node-a', 'interface': 'eth2'},
            {'host': 'node-a', 'interface': 'eth1', 'port': 2}, {'host': 'node-b', 'interface': 'eth9'}]
    assert _keys.derive_sscis(ends) == [4, 2, 1, 3]
    assert _keys.derive_sscis(list(reversed(ends))) == [3, 1, 2, 4]  # the inventory order does not matter


def test_key_id_is_a_prefixed_truncated_sha256():
    sak = '00112233445566778899aabbccddeeff'
    expected = hashlib.sha256(b'l2sec.macsec/key-id/v1\x00' + bytes.fromhex(sak)).hexdigest()[:32]
    assert _keys.key_id(sak) == expected
    assert len(expected) == 32
    assert _keys.key_id(sak) != _keys.key_id('00112233445566778899aabbccddeefe')
    assert sak not in _keys.key_id(sak)


def test_fingerprint_is_short_one_way_and_separate_from_the_key_id():
    sak = '00112233445566778899aabbccddeeff'
    shown = _keys.fingerprint(sak)
    assert re.fullmatch(r'sha256:[0-9a-f]{16}', shown)
    assert shown[7:] not in _keys.key_id(sak)
    assert _keys.fingerprint(sak) == _keys.fingerprint(sak.upper())
    assert _keys.fingerprint('not hex at all') != _keys.fingerprint('not hex at alm')


def test_random_generation():
    assert len(_keys.random_cak()) == 32 and len(_keys.random_cak(32)) == 64
    assert len(_keys.random_ckn()) == 32 and len(_keys.random_ckn(1)) == 2
    assert len(_keys.random_sak('gcm-aes-xpn-256')) == 64 and len(_keys.random_sak('gcm-aes-128')) == 32
    assert len(_keys.random_salt()) == 24
    assert all(1 <= _keys.random_ssci() <= 0xFFFFFFFF for dummy in range(200))
    assert len({_keys.random_cak() for dummy in range(50)}) == 50
    master = _keys.random_master_secret()
    assert _keys.master_secret_bytes(master) == bytes.fromhex(master)
    for bad in (lambda: _keys.random_cak(24), lambda: _keys.random_ckn(33), lambda: _keys.random_ckn(0)):
        with pytest.raises(ValueError):
            bad()


# ---------------------------------------------------------------------------------------------------------------
# Validation: every message names the field and the rule, and never the value.

VALIDATION_CASES = [
    (lambda v: _keys.validate_cak(v, 'L.cak'), 'ab' * 20, 'L.cak', 'has 40 hex digits: it must be 32 or 64 hex digits'),
    (lambda v: _keys.validate_cak(v, 'L.cak'), 'zz' * 16, 'L.cak', 'is malformed: it must be 32 or 64 hex digits'),
    (lambda v: _keys.validate_cak(v, 'L.cak'), 12345678901234567890123456789012, 'L.cak',
     'must be a quoted string of 32 or 64 hex digits'),
    (lambda v: _keys.validate_ckn(v, 'L.ckn'), 'abc', 'L.ckn', 'has 3 hex digits: it must be 2 to 64 hex digits, '
                                                               'an even count'),
    (lambda v: _keys.validate_ckn(v, 'L.ckn'), 'ab' * 33, 'L.ckn', 'has 66 hex digits'),
    (lambda v: _keys.validate_ckn(v, 'L.ckn'), '', 'L.ckn', 'is malformed'),
    (lambda v: _keys.validate_sak(v, 'gcm-aes-256', 'E.sak'), 'ab' * 16, 'E.sak',
     'has 32 hex digits: it must be 64 hex digits (32 bytes) for cipher gcm-aes-256'),
    (lambda v: _keys.validate_sak(v, 'gcm-aes-xpn-128', 'E.sak'), 'ab' * 32, 'E.sak',
     'it must be 32 hex digits (16 bytes) for cipher gcm-aes-xpn-128'),
    (lambda v: _keys.validate_sak(v, 'gcm-aes-128', 'E.sak'), 'g' * 32, 'E.sak', 'is malformed'),
    (lambda v: _keys.validate_key_id(v, 'E.key_id'), 'ab' * 17, 'E.key_id',
     'it must be 1 to 32 hex digits (a key id is up to 16 bytes)'),
    (lambda v: _keys.validate_key_id(v, 'E.key_id'), 'x1', 'E.key_id', 'is malformed'),
    (lambda v: _keys.validate_salt(v, 'L.salt'), 'ab' * 11, 'L.salt',
     'it must be 24 hex digits (the 12-byte XPN salt)'),
    (lambda v: _keys.validate_ssci(v, 'E.ssci'), 0, 'E.ssci', 'is 0: it must be from 1 to 4294967295'),
    (lambda v: _keys.validate_ssci(v, 'E.ssci'), 2 ** 32, 'E.ssci', 'it must be from 1 to 4294967295'),
    (lambda v: _keys.validate_ssci(v, 'E.ssci'), True, 'E.ssci',
     'must be an integer from 1 to 4294967295, not a boolean'),
    (lambda v: _keys.validate_generation(v, 'L.generation'), 0, 'L.generation', 'must be an integer from 1'),
    (lambda v: _keys.validate_cipher(v, 'L.cipher'), 'gcm-aes-512', 'L.cipher', "is 'gcm-aes-512': use one of"),
    (_keys.master_secret_bytes, 'ab' * 31, 'macsec_master_secret',
     'is hex of 62 digits: a hex master secret needs an even count of at least 64 digits'),
    (_keys.master_secret_bytes, 'a' * 65, 'macsec_master_secret', 'is hex of 65 digits'),
    (_keys.master_secret_bytes, 'correct horse battery staple', 'macsec_master_secret',
     'is 28 characters long: a master secret needs at least 44 characters'),
    (_keys.master_secret_bytes, 'changeme' * 6, 'macsec_master_secret',
     'uses only 7 different characters: it looks like a placeholder'),
    (_keys.master_secret_bytes, ' ' + 'k3Y!' * 12, 'macsec_master_secret', 'has leading or trailing whitespace'),
    (_keys.master_secret_bytes, 'k3Y!9' * 12 + '\n', 'macsec_master_secret', 'has leading or trailing whitespace'),
    (_keys.master_secret_bytes, '', 'macsec_master_secret', 'is empty'),
    (_keys.master_secret_bytes, None, 'macsec_master_secret', 'is null'),
]


@pytest.mark.parametrize('check, value, path, message', VALIDATION_CASES)
def test_validation_errors_name_the_field_and_the_rule_but_not_the_value(check, value, path, message):
    with pytest.raises(_keys.ValidationError) as error:
        check(value)
    assert error.value.path == path
    assert message in error.value.message
    assert str(error.value).startswith(path + ': ')
    if isinstance(value, str) and len(value.strip()) > 3 and path != 'L.cipher':  # a cipher name is no secret
        assert value.strip() not in str(error.value)


def test_valid_values_come_back_normalized():
    assert _keys.validate_cak('AB' * 16) == 'ab' * 16
    assert _keys.validate_ckn('0A') == '0a'
    assert _keys.validate_sak('Cd' * 32, 'gcm-aes-xpn-256') == 'cd' * 32
    assert _keys.validate_key_id('1') == '01' + '0' * 30  # as the kernel reports a 1-byte id
    assert _keys.validate_key_id('ab' * 16) == 'ab' * 16
    assert _keys.validate_salt('0A' * 12) == '0a' * 12
    assert _keys.validate_ssci(7) == 7
    assert _keys.master_secret_bytes('AB' * 32) == b'\xab' * 32
    text = 'q7Rt-u9Wz+Lm2Pk5Xy8Bc3Dv6Fg1Hj4Kn0Sa%Qe!Ti@Yo#'
    assert _keys.master_secret_bytes(text) == text.encode('utf-8')


# ---------------------------------------------------------------------------------------------------------------
# The material of one link for one host.

def kernel_link(**options):
    link = {'name': 'rack1-ab', 'provider': 'kernel', 'ends': [{'host': 'node-a', 'interface': 'eth1'},
                                                               {'host': 'node-b', 'interface': 'eth1'},
                                                               {'host': 'node-c', 'interface': 'eth3'}]}
    link.update(options)
    return _keys.link_from_inventory(link)


def test_kernel_material_is_own_tx_and_every_peers_rx_and_ends_agree():
    link = kernel_link()
    a, b = _keys.link_material(link, 'node-a', MASTER), _keys.link_material(link, 'node-b', MASTER)
    assert a['tx']['host'] == 'node-a' and [peer['host'] for peer in a['rx']] == ['node-b', 'node-c']
    # What node-a receives from node-b is what node-b transmits with.
    assert a['rx'][0]['sak'] == b['tx']['sak'] and a['rx'][0]['key_id'] == b['tx']['key_id']
    assert a['tx']['key_id'] == _keys.key_id(a['tx']['sak'])
    assert len({a['tx']['sak'], b['tx']['sak'], a['rx'][1]['sak']}) == 3
    assert 'salt' not in a and 'ssci' not in a['tx'] and 'cak' not in a


def test_rotation_is_generation_plus_one():
    one = _keys.link_material(kernel_link(generation=1), 'node-a', MASTER)
    two = _keys.link_material(kernel_link(generation=2), 'node-a', MASTER)
    again = _keys.link_material(kernel_link(generation=1), 'node-a', MASTER)
    assert one['tx']['sak'] != two['tx']['sak'] and one['tx']['key_id'] != two['tx']['key_id']
    assert one == again


def test_xpn_material_has_salt_and_sscis():
    material = _keys.link_material(kernel_link(cipher='gcm-aes-xpn-256'), 'node-b', MASTER)
    assert len(material['salt']) == 24 and len(material['tx']['sak']) == 64
    assert material['tx']['ssci'] == 2 and [peer['ssci'] for peer in material['rx']] == [1, 3]


def test_explicit_keys_override_derivation_one_by_one():
    sak_a, sak_b, sak_c = '11' * 16, '22' * 16, '33' * 16
    link = kernel_link(cipher='gcm-aes-xpn-128', salt='AA' * 12)
    for end, sak, ssci in zip(link['ends'], (sak_a, sak_b, sak_c), (7, 8, 9)):
        end.update(sak=sak.upper(), ssci=ssci)
    link['ends'][0]['key_id'] = '0102'
    material = _keys.link_material(link, 'node-a', None)  # all explicit: no master secret needed
    assert material['tx'] == {'host': 'node-a', 'interface': 'eth1', 'port': 1, 'sci': None, 'sak': sak_a,
                              'key_id': '0102' + '0' * 28, 'source': 'explicit', 'ssci': 7}
    assert material['rx'][0]['key_id'] == _keys.key_id(sak_b)
    assert material['salt'] == 'aa' * 12


def test_mka_material_derived_or_explicit():
    link = _keys.link_from_inventory({'name': 'mka-ab', 'provider': 'wpa_supplicant', 'ends': [
        {'host': 'node-a', 'interface': 'eth2'}, {'host': 'node-b', 'interface': 'eth2'}]})
    derived = _keys.link_material(link, 'node-a', MASTER)
    assert derived['cak'] == _keys.derive_cak(MASTER, 'mka-ab', 1) and derived['source'] == 'derived'
    assert derived == dict(_keys.link_material(link, 'node-b', MASTER))  # both ends hold the same pair
    assert 'tx' not in derived
    link.update(cak='AB' * 16, ckn='CD' * 4)
    explicit = _keys.link_material(link, 'node-a', None)
    assert (explicit['cak'], explicit['ckn'], explicit['source']) == ('ab' * 16, 'cd' * 4, 'explicit')


def test_mka_with_eap_has_no_psk_material_and_ipsec_psk_is_added():
    link = _keys.link_from_inventory({'name': 'e', 'provider': 'wpa_supplicant', 'mode': 'eap',
                                      'ipsec': {'auth': 'psk'}, 'ends': [{'host': 'a', 'interface': 'eth1'},
                                                                         {'host': 'b', 'interface': 'eth1'}]})
    material = _keys.link_material(link, 'a', MASTER)
    assert 'cak' not in material
    assert material['ipsec_psk'] == _keys.derive_ipsec_psk(MASTER, 'e', 1)


def test_plan_entries_give_the_same_keys_as_inventory_links():
    plan_entry = {'name': 'rack1-ab', 'provider': 'kernel',
                  'options': {'generation': 4, 'cipher': 'gcm-aes-128', 'port': 1, 'salt': None},
                  'end': {'host': 'node-b', 'index': 1, 'interface': 'eth1', 'port': 1, 'sci': '525400000b010001'},
                  'peers': [{'host': 'node-a', 'index': 0, 'interface': 'eth1', 'port': 1,
                             'sci': '525400000a010001'}]}
    from_plan = _keys.link_material(_keys.link_from_plan(plan_entry), 'node-b', MASTER)
    from_inventory = _keys.link_material(kernel_link(generation=4, ends=[
        {'host': 'node-a', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'}]), 'node-b', MASTER)
    assert from_plan['tx']['sak'] == from_inventory['tx']['sak']
    assert from_plan['rx'][0]['sci'] == '525400000a010001'


LINK_ERRORS = [
    (dict(cak='ab' * 16), 'macsec_links[mka].ckn', 'is missing: give cak and ckn together'),
    (dict(ckn='ab'), 'macsec_links[mka].cak', 'is missing'),
    (dict(cak='ab' * 15, ckn='ab'), 'macsec_links[mka].cak', 'has 30 hex digits'),
    (dict(generation=0), 'macsec_links[mka].generation', 'must be an integer from 1'),
]


@pytest.mark.parametrize('options, path, message', LINK_ERRORS)
def test_link_errors_name_the_link_and_field(options, path, message):
    raw = {'name': 'mka', 'provider': 'wpa_supplicant', 'ends': [{'host': 'a', 'interface': 'eth1'},
                                                                 {'host': 'b', 'interface': 'eth1'}]}
    raw.update(options)
    with pytest.raises(_keys.ValidationError) as error:
        _keys.link_material(_keys.link_from_inventory(raw), 'a', MASTER)
    assert (error.value.path, message in error.value.message) == (path, True)
    for secret in (options.get('cak'), options.get('ckn')):
        if secret and len(secret) > 2:
            assert secret not in str(error.value)


def test_explicit_sak_of_the_wrong_length_names_the_end():
    link = kernel_link(cipher='gcm-aes-256')
    for end in link['ends']:
        end['sak'] = '5e' * 16
    with pytest.raises(_keys.ValidationError) as error:
        _keys.link_material(link, 'node-a', None)
    assert error.value.path == 'macsec_links[rack1-ab].ends[0] (node-a).sak'
    assert '5e' * 16 not in str(error.value)


def test_missing_master_secret_and_foreign_host():
    with pytest.raises(_keys.ValidationError) as error:
        _keys.link_material(kernel_link(), 'node-a', None)
    assert error.value.path == 'macsec_master_secret'
    with pytest.raises(_keys.ValidationError) as error:
        _keys.link_material(kernel_link(), 'node-z', MASTER)
    assert 'has 0 end(s) on host node-z' in error.value.message


def test_secrets_and_fingerprints_of_material():
    material = _keys.link_material(kernel_link(cipher='gcm-aes-xpn-128'), 'node-a', MASTER)
    secrets = _keys.secrets_of(material)
    assert len(secrets) == 4  # salt, own SAK, two peers' SAKs
    shown = repr(_keys.fingerprints_of(material))
    assert not any(secret in shown for secret in secrets)
    assert material['tx']['key_id'] in shown


# ---------------------------------------------------------------------------------------------------------------
# The RADIUS shared secret of `mode: eap` links.

def eap_link(**options):
    link = {'name': 'eap-ab', 'provider': 'wpa_supplicant', 'mode': 'eap',
            'radius': {'host': '192.0.2.9', 'port': 1812, 'server_host': 'radius-1'},
            'ends': [{'host': 'node-a', 'interface': 'eth2', 'eap_role': 'authenticator'},
                     {'host': 'node-b', 'interface': 'eth2', 'eap_role': 'supplicant'}]}
    link.update(options)
    return _keys.link_from_inventory(link)


def test_radius_secret_is_deterministic_printable_and_differs_per_link_and_generation():
    secret = _keys.derive_radius_secret(MASTER, 'eap-ab', 1)
    assert secret == _keys.derive_radius_secret(MASTER, 'eap-ab', 1)
    assert re.fullmatch(r'[0-9a-f]{32}', secret)
    others = {_keys.derive_radius_secret(MASTER, link, generation)
              for link, generation in (('eap-ab', 2), ('eap-ac', 1), ('eap-a', 1))}
    assert secret not in others and len(others) == 3
    # Its own purpose: never the CAK, CKN or IKE PSK of the same link (same length as the CAK and CKN).
    assert secret not in (_keys.derive_cak(MASTER, 'eap-ab', 1), _keys.derive_ckn(MASTER, 'eap-ab', 1))
    assert not _keys.derive_ipsec_psk(MASTER, 'eap-ab', 1).startswith(secret)
    info = _keys.encode_context(_keys.context(_keys.PURPOSE_RADIUS_SECRET, 16, 'eap-ab', 1))
    assert secret == _hkdf_by_hand(MASTER, _keys.HKDF_SALT, info, 16).hex()


def test_radius_secret_goes_to_the_authenticators_and_the_radius_server_only():
    link = eap_link()
    expected = _keys.derive_radius_secret(MASTER, 'eap-ab', 1)
    authenticator = _keys.link_material(link, 'node-a', MASTER)
    assert authenticator['radius_secret'] == expected and 'cak' not in authenticator
    assert 'radius_secret' not in _keys.link_material(link, 'node-b', MASTER)  # a supplicant needs none
    # The RADIUS server is no end of the link: it gets the secret and nothing else.
    server = _keys.link_material(link, 'radius-1', MASTER)
    assert server == {'link': 'eap-ab', 'provider': 'wpa_supplicant', 'generation': 1, 'cipher': 'gcm-aes-128',
                      'radius_secret': expected}
    rotated = _keys.link_material(eap_link(generation=2), 'radius-1', MASTER)
    assert rotated['radius_secret'] == _keys.derive_radius_secret(MASTER, 'eap-ab', 2) != expected


def test_radius_secret_of_a_server_that_is_also_a_supplicant_end():
    link = eap_link(radius={'host': '192.0.2.9', 'port': 1812, 'server_host': 'node-b'})
    assert _keys.link_material(link, 'node-b', MASTER)['radius_secret'] == \
        _keys.derive_radius_secret(MASTER, 'eap-ab', 1)


def test_other_hosts_than_ends_and_the_radius_server_are_refused():
    with pytest.raises(_keys.ValidationError) as error:
        _keys.link_material(eap_link(), 'node-z', MASTER)
    assert error.value.path == 'macsec_links[eap-ab].ends'
    assert 'has 0 end(s) on host node-z' in error.value.message and 'radius.server_host' in error.value.message
    # Without server_host (an external RADIUS server) nobody outside the link gets the secret.
    with pytest.raises(_keys.ValidationError):
        _keys.link_material(eap_link(radius={'host': '192.0.2.9', 'port': 1812}), 'radius-1', MASTER)
    # A psk link's server_host means nothing (the topology refuses radius there anyway).
    psk = eap_link(mode='psk')
    with pytest.raises(_keys.ValidationError):
        _keys.link_material(psk, 'radius-1', MASTER)


def test_radius_secret_from_a_plan_entry_of_another_host():
    """The RADIUS server takes the link from an authenticator's plan part: it gives the same secret."""
    entry = {'name': 'eap-ab', 'provider': 'wpa_supplicant',
             'options': {'generation': 3, 'cipher': 'gcm-aes-128', 'mode': 'eap',
                         'radius': {'host': '192.0.2.9', 'port': 1812, 'server_host': 'radius-1'}},
             'end': {'host': 'node-a', 'index': 0, 'interface': 'eth2', 'eap_role': 'authenticator'},
             'peers': [{'host': 'node-b', 'index': 1, 'interface': 'eth2', 'eap_role': 'supplicant'}]}
    link = _keys.link_from_plan(entry)
    assert _keys.link_material(link, 'radius-1', MASTER)['radius_secret'] == \
        _keys.link_material(link, 'node-a', MASTER)['radius_secret'] == \
        _keys.derive_radius_secret(MASTER, 'eap-ab', 3)


def test_radius_secret_is_a_secret_and_only_its_fingerprint_is_shown():
    for host in ('node-a', 'radius-1'):
        material = _keys.link_material(eap_link(), host, MASTER)
        assert _keys.secrets_of(material) == [material['radius_secret']]
        shown = _keys.fingerprints_of(material)
        assert shown == {'radius_secret': _keys.fingerprint(material['radius_secret'])}
        assert material['radius_secret'] not in repr(shown)
