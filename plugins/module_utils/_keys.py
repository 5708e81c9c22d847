# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Key material: generation, validation, HKDF derivation from the master secret, key ids and fingerprints.

Private to the collection and free of Ansible imports; docs/keys.md is its user-facing page (an auditor can
recompute every key from it). Runs on the controller: keys derive there and travel only to the host that needs
them, inside no_log results.

Vocabulary as in docs/topology.md: a *link* has *ends*; an end *transmits* with its own SAK and receives with
its peers' SAKs; the *generation* of a link selects its keys (generation + 1 = rotation).

Nothing here puts key material in an exception message: errors name the field and the rule, never the value.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import struct

# One error type for every bad value of the inventory: .path names the field, .message the rule and the fix.
from ansible_collections.l2sec.macsec.plugins.module_utils._topology import ValidationError  # noqa: F401

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
except ImportError:  # pragma: no cover - reported by the plugins with a clear message
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

# ---------------------------------------------------------------------------------------------------------------
# Constants of the derivation. Changing any of them changes every derived key of every fleet: bump KDF_VERSION.

COLLECTION = 'l2sec.macsec'
KDF_VERSION = '1'
# A fixed, public HKDF salt (RFC 5869 section 3.1: a non-secret salt still strengthens the extract step).
HKDF_SALT = b'l2sec.macsec/hkdf-salt/v1'
KEY_ID_PREFIX = b'l2sec.macsec/key-id/v1\x00'
FINGERPRINT_PREFIX = b'l2sec.macsec/fingerprint/v1\x00'

PURPOSE_CAK = 'mka-cak'
PURPOSE_CKN = 'mka-ckn'
PURPOSE_SAK = 'sak'
PURPOSE_XPN_SALT = 'xpn-salt'
PURPOSE_IPSEC_PSK = 'ipsec-psk'
PURPOSE_RADIUS_SECRET = 'radius-secret'
PURPOSES = (PURPOSE_CAK, PURPOSE_CKN, PURPOSE_SAK, PURPOSE_XPN_SALT, PURPOSE_IPSEC_PSK, PURPOSE_RADIUS_SECRET)

SAK_BYTES = {'gcm-aes-128': 16, 'gcm-aes-xpn-128': 16, 'gcm-aes-256': 32, 'gcm-aes-xpn-256': 32}
XPN_CIPHERS = frozenset(('gcm-aes-xpn-128', 'gcm-aes-xpn-256'))
CAK_BYTES = (16, 32)
CKN_BYTES = 16  # wpa_supplicant accepts 1 to 32; 16 is what most deployments and switches use
CKN_MAX_BYTES = 32
SALT_BYTES = 12  # the XPN salt (IEEE 802.1AEbw)
KEY_ID_BYTES = 16  # the kernel's MACSEC_KEYID_LEN
IPSEC_PSK_BYTES = 32
# 128 bits, written as 32 hex digits: printable for every RADIUS client and server, and short enough for the
# network devices that cap a shared secret at 32 or 64 characters.
RADIUS_SECRET_BYTES = 16
SSCI_MAX = 0xFFFFFFFF
FINGERPRINT_HEX_DIGITS = 16

MASTER_MIN_BYTES = 32
MASTER_MIN_HEX_DIGITS = 2 * MASTER_MIN_BYTES
# A text master secret needs as many characters as the base64 of 32 random bytes (`openssl rand -base64 32`):
# base64 carries 6 bits per character, so 44 characters carry the 32 bytes of entropy that the hex form has.
MASTER_MIN_TEXT_CHARS = 44
# A cheap net for placeholders ('changeme' * 6): random secrets of this length use far more distinct characters.
MASTER_MIN_DISTINCT_CHARS = 12

FIELD_MAX_BYTES = 0xFFFF  # each context field is prefixed by its length as 2 bytes

HEX = re.compile(r'[0-9A-Fa-f]+\Z')


def _require_cryptography():
    if not HAS_CRYPTOGRAPHY:
        raise RuntimeError('the Python library cryptography is required on the controller to derive keys '
                           '(pip install cryptography)')


# ---------------------------------------------------------------------------------------------------------------
# Validation of given values. Each returns the normalized value (lowercase hex, int) or raises ValidationError.

def _hex_value(value, field, lengths, rule):
    """Lowercase hex of one of the allowed digit counts; `rule` says the allowed counts in words."""
    if not isinstance(value, str):
        # A number here is almost always an unquoted key that YAML read as an integer (and mangled).
        raise ValidationError(field, 'must be a quoted string of %s, not %s' % (rule, _kind(value)))
    if not HEX.match(value):
        raise ValidationError(field, 'is malformed: it must be %s (0-9, a-f), nothing else' % rule)
    if len(value) not in lengths:
        raise ValidationError(field, 'has %d hex digits: it must be %s' % (len(value), rule))
    return value.lower()


def _kind(value):
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, int):
        return 'a number (quote it)'
    if value is None:
        return 'null'
    return 'a %s' % type(value).__name__


def validate_cak(value, field='cak'):
    return _hex_value(value, field, (32, 64), '32 or 64 hex digits (a 128-bit or 256-bit CAK)')


def validate_ckn(value, field='ckn'):
    return _hex_value(value, field, range(2, 2 * CKN_MAX_BYTES + 1, 2),
                      '2 to 64 hex digits, an even count (1 to 32 bytes)')


def validate_cipher(value, field='cipher'):
    if value not in SAK_BYTES:
        raise ValidationError(field, 'is %r: use one of %s' % (value, ' | '.join(sorted(SAK_BYTES))))
    return value


def validate_sak(value, cipher, field='sak'):
    """An explicit SAK: its length must match the link's cipher suite."""
    validate_cipher(cipher)
    digits = 2 * SAK_BYTES[cipher]
    return _hex_value(value, field, (digits,), '%d hex digits (%d bytes) for cipher %s: gcm-aes-128 and '
                                               'gcm-aes-xpn-128 take 16-byte keys, gcm-aes-256 and '
                                               'gcm-aes-xpn-256 take 32-byte keys'
                      % (digits, digits // 2, cipher))


def validate_key_id(value, field='key_id'):
    """An explicit key id, returned as the kernel reports it: 16 bytes, the given ones first, zeros after.

    The kernel copies a shorter id into its 16-byte field and fills the rest with zeros (nla_memcpy), so this
    is the form a dump compares against. An odd digit count gets a leading zero ('1' is the byte 01).
    """
    digits = _hex_value(value, field, range(1, 2 * KEY_ID_BYTES + 1), '1 to 32 hex digits (a key id is up to '
                                                                      '16 bytes)')
    if len(digits) % 2:
        digits = '0' + digits
    return digits.ljust(2 * KEY_ID_BYTES, '0')


def validate_salt(value, field='salt'):
    return _hex_value(value, field, (2 * SALT_BYTES,), '24 hex digits (the 12-byte XPN salt)')


def validate_ssci(value, field='ssci'):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, 'must be an integer from 1 to 4294967295, not %s' % _kind(value))
    if not 1 <= value <= SSCI_MAX:
        raise ValidationError(field, 'is %d: it must be from 1 to 4294967295' % value)
    return value


def validate_generation(value, field='generation'):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SSCI_MAX:
        raise ValidationError(field, 'must be an integer from 1 to 4294967295 (bump it by one to rotate keys)')
    return value


def master_secret_bytes(secret, field='macsec_master_secret'):
    """The bytes of the master secret, by one rule that an auditor can repeat.

    - A string made only of hex digits is hex: it needs an even count of at least 64 digits (32 bytes);
      `openssl rand -hex 32` makes one.
    - Any other string is used as its UTF-8 bytes and needs at least 44 characters (what
      `openssl rand -base64 32` prints: 32 random bytes).
    Leading or trailing whitespace is refused rather than stripped: a silent change would derive other keys
    than an auditor recomputing from the vault's value.
    """
    if isinstance(secret, bytes):
        secret = secret.decode('utf-8', 'strict')
    if not isinstance(secret, str) or not secret:
        raise ValidationError(field, 'is %s: set it to a vaulted random string, e.g. the output of '
                                     '`openssl rand -hex 32`' % ('empty' if secret == '' else _kind(secret)))
    if secret != secret.strip():
        raise ValidationError(field, 'has leading or trailing whitespace (a newline from a file?): remove it; '
                                     'it is not stripped silently because it is part of the secret')
    if HEX.match(secret):
        if len(secret) < MASTER_MIN_HEX_DIGITS or len(secret) % 2:
            raise ValidationError(field, 'is hex of %d digits: a hex master secret needs an even count of at '
                                         'least 64 digits (32 bytes); make one with `openssl rand -hex 32`'
                                  % len(secret))
        return bytes.fromhex(secret)
    if len(secret) < MASTER_MIN_TEXT_CHARS:
        raise ValidationError(field, 'is %d characters long: a master secret needs at least 44 characters '
                                     '(or 64 hex digits) to carry 32 bytes of entropy; make one with '
                                     '`openssl rand -hex 32`' % len(secret))
    if len(set(secret)) < MASTER_MIN_DISTINCT_CHARS:
        raise ValidationError(field, 'uses only %d different characters: it looks like a placeholder, not a '
                                     'random secret; make one with `openssl rand -hex 32`' % len(set(secret)))
    return secret.encode('utf-8')


# ---------------------------------------------------------------------------------------------------------------
# Random generation (for operators who want explicit keys, and for the master secret itself).

def random_cak(length=16):
    if length not in CAK_BYTES:
        raise ValueError('a CAK is 16 or 32 bytes')
    return os.urandom(length).hex()


def random_ckn(length=CKN_BYTES):
    if not 1 <= length <= CKN_MAX_BYTES:
        raise ValueError('a CKN is 1 to 32 bytes')
    return os.urandom(length).hex()


def random_sak(cipher):
    return os.urandom(SAK_BYTES[validate_cipher(cipher)]).hex()


def random_salt():
    return os.urandom(SALT_BYTES).hex()


def random_ssci():
    # 0 is not a valid SSCI; draw from 1 to 2**32 - 1.
    return 1 + int.from_bytes(os.urandom(4), 'big') % SSCI_MAX


def random_master_secret():
    return os.urandom(MASTER_MIN_BYTES).hex()


# ---------------------------------------------------------------------------------------------------------------
# Derivation: HKDF-SHA256 (RFC 5869) with a length-prefixed context.

def hkdf_sha256(ikm, salt, info, length):
    """RFC 5869 HKDF with SHA-256 (extract then expand); the single code path of every derived key."""
    _require_cryptography()
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def encode_context(fields):
    """The HKDF info: each field as UTF-8, prefixed by its byte length as 2 bytes big-endian.

    A prefix-free encoding: ('a/b', 'c') and ('a', 'b/c') give different bytes, and so do tuples of different
    lengths, so two different contexts can never yield the same info (tests/unit: decode_context inverts it).
    Integers are written in decimal; every field is a str or a non-negative int.
    """
    parts = []
    for field in fields:
        if isinstance(field, bool) or not isinstance(field, (str, int)):
            raise TypeError('context fields are strings or integers, not %s' % type(field).__name__)
        if isinstance(field, int) and field < 0:
            raise ValueError('context integers are non-negative')
        data = (str(field) if isinstance(field, int) else field).encode('utf-8')
        if len(data) > FIELD_MAX_BYTES:
            raise ValueError('a context field is at most 65535 bytes')
        parts.append(struct.pack('>H', len(data)) + data)
    return b''.join(parts)


def decode_context(info):
    """The fields of an info made by encode_context, as strings (the proof that the encoding is injective)."""
    fields, offset = [], 0
    while offset < len(info):
        if offset + 2 > len(info):
            raise ValueError('truncated length prefix')
        (size,) = struct.unpack_from('>H', info, offset)
        offset += 2
        if offset + size > len(info):
            raise ValueError('truncated field')
        fields.append(info[offset:offset + size].decode('utf-8'))
        offset += size
    return fields


def context(purpose, length, link, generation, *scope):
    """The context fields of one key: who we are, what the key is for, how long it is, and whose it is.

    The output length is part of the context: HKDF output for a shorter length is a prefix of a longer one, so
    without it a 16-byte key would be the first half of the 32-byte key of the same context.
    """
    if purpose not in PURPOSES:
        raise ValueError('unknown purpose %r' % purpose)
    return (COLLECTION, KDF_VERSION, purpose, length, link, generation) + tuple(scope)


def derive(master, purpose, length, link, generation, *scope):
    """`length` bytes for one purpose of one link's generation (and scope, e.g. the transmitting end)."""
    if not isinstance(master, bytes) or len(master) < MASTER_MIN_BYTES:
        raise ValueError('derive() wants the master secret as bytes (master_secret_bytes())')
    info = encode_context(context(purpose, length, link, generation, *scope))
    return hkdf_sha256(master, HKDF_SALT, info, length)


def cak_bytes_for(cipher):
    """CAK length: 256-bit ciphers want a 256-bit CAK (IEEE 802.1X-2020 KDF), 128-bit ones a 128-bit CAK."""
    return SAK_BYTES[validate_cipher(cipher)]


def derive_cak(master, link, generation, length=16):
    if length not in CAK_BYTES:
        raise ValueError('a CAK is 16 or 32 bytes')
    return derive(master, PURPOSE_CAK, length, link, generation).hex()


def derive_ckn(master, link, generation, length=CKN_BYTES):
    if not 1 <= length <= CKN_MAX_BYTES:
        raise ValueError('a CKN is 1 to 32 bytes')
    return derive(master, PURPOSE_CKN, length, link, generation).hex()


def derive_sak(master, link, generation, cipher, host, interface, port):
    """The SAK that one end transmits with, named by host + parent NIC + SCI port.

    Not by SCI: the SCI holds the NIC's MAC, which a NIC swap changes; the key must not. The cipher is part of
    the context so that moving a link between GCM and XPN (same key length) never reuses a key.
    """
    length = SAK_BYTES[validate_cipher(cipher)]
    return derive(master, PURPOSE_SAK, length, link, generation, cipher, host, interface, port).hex()


def derive_salt(master, link, generation):
    return derive(master, PURPOSE_XPN_SALT, SALT_BYTES, link, generation).hex()


def derive_ipsec_psk(master, link, generation):
    return derive(master, PURPOSE_IPSEC_PSK, IPSEC_PSK_BYTES, link, generation).hex()


def derive_radius_secret(master, link, generation):
    """The RADIUS shared secret between the link's authenticators and its RADIUS server (`mode: eap`)."""
    return derive(master, PURPOSE_RADIUS_SECRET, RADIUS_SECRET_BYTES, link, generation).hex()


def end_order_key(end):
    """How ends sort for SSCIs: by host, then interface, then port (never by inventory position)."""
    return (str(end['host']), str(end['interface']), int(end.get('port') or 1))


def derive_sscis(ends):
    """The SSCI of each end: its 1-based position when the link's ends are sorted by (host, interface, port).

    Deterministic, distinct within the link, and independent of the order the inventory lists the ends in.
    Returned as a list parallel to `ends`.
    """
    order = sorted(range(len(ends)), key=lambda index: end_order_key(ends[index]))
    sscis = [0] * len(ends)
    for position, index in enumerate(order):
        sscis[index] = position + 1
    return sscis


# ---------------------------------------------------------------------------------------------------------------
# Key ids and fingerprints: one-way, so they may appear where keys must not.

def key_id(key_hex):
    """The kernel key id of a SAK: SHA-256 over a domain prefix and the key bytes, first 16 bytes, as hex.

    The kernel never returns keys, but it returns key ids: a key id that follows the key lets the provider see
    that a key changed. The prefix keeps these ids apart from every other hash of the key.
    """
    return hashlib.sha256(KEY_ID_PREFIX + bytes.fromhex(key_hex)).digest()[:KEY_ID_BYTES].hex()


def fingerprint(secret):
    """A short display form of a secret for diffs and reports: 'sha256:' + 16 hex digits of a prefixed hash.

    Hex secrets are hashed as their bytes, anything else as UTF-8; never reversible, never the key itself.
    """
    if isinstance(secret, str):
        data = bytes.fromhex(secret) if HEX.match(secret) and len(secret) % 2 == 0 else secret.encode('utf-8')
    else:
        data = bytes(secret)
    return 'sha256:' + hashlib.sha256(FINGERPRINT_PREFIX + data).hexdigest()[:FINGERPRINT_HEX_DIGITS]


def b64(secret_hex):
    """Base64 of a hex key (some daemons want it); here so that the leak tests look for this form too."""
    return base64.b64encode(bytes.fromhex(secret_hex)).decode('ascii')


# ---------------------------------------------------------------------------------------------------------------
# The material of one link for one host.

def link_material(link, host, master=None):
    """What `host` needs of `link`: its own transmit key and its peers' keys, or the MKA pair, or the IKE PSK.

    link: {name, provider, generation, cipher, mode, ipsec, radius, cak, ckn, salt, ends: [{host, interface, port,
    sak, key_id, ssci, sci, eap_role}]} (link_from_plan() and link_from_inventory() make it). master: the master
    secret's bytes, or None when every key of the link is explicit. Explicit values override derivation one by
    one. The host must be an end of the link, or the link's RADIUS server (`radius.server_host`), which gets the
    RADIUS shared secret only. Raises ValidationError naming the field; never a value.
    """
    path = 'macsec_links[%s]' % link['name']
    generation = validate_generation(link.get('generation', 1), path + '.generation')
    cipher = validate_cipher(link.get('cipher') or 'gcm-aes-128', path + '.cipher')
    ends = link['ends']
    mine = [index for index, end in enumerate(ends) if end['host'] == host]
    eap = link['provider'] == 'wpa_supplicant' and link.get('mode') == 'eap'
    server = eap and host == (link.get('radius') or {}).get('server_host')
    if len(mine) > 1 or not (mine or server):
        also = ' (or, with `mode: eap`, the link\'s radius.server_host)' if eap else ''
        raise ValidationError(path + '.ends', 'has %d end(s) on host %s: the host must be an end of the link '
                                              'exactly once%s' % (len(mine), host, also))
    deriver = _Deriver(master, link['name'], generation, path)
    material = {'link': link['name'], 'provider': link['provider'], 'generation': generation, 'cipher': cipher}
    if not mine:
        # The RADIUS server is usually no end of the link: it needs the shared secret and nothing else.
        material['radius_secret'] = deriver.get(derive_radius_secret)
        return material
    if link['provider'] == 'kernel':
        material.update(_kernel_material(link, ends, mine[0], cipher, deriver, path))
    elif (link.get('mode') or 'psk') == 'psk':
        material.update(_mka_material(link, cipher, deriver, path))
    elif ends[mine[0]].get('eap_role') == 'authenticator' or server:
        # Only the ends that talk RADIUS hold its secret: a supplicant never needs it.
        material['radius_secret'] = deriver.get(derive_radius_secret)
    ipsec = link.get('ipsec') or {}
    if ipsec.get('auth') == 'psk':
        material['ipsec_psk'] = deriver.get(derive_ipsec_psk)
    return material


class _Deriver:
    """Derives on demand, so that a link whose keys are all explicit needs no master secret."""

    def __init__(self, master, link, generation, path):
        self.master = master
        self.link = link
        self.generation = generation
        self.path = path

    def get(self, function, *args):
        if self.master is None:
            raise ValidationError('macsec_master_secret', 'is not set, and link %s derives keys from it: set it '
                                                          '(vaulted), or give the link\'s keys explicitly'
                                  % self.link)
        return function(self.master, self.link, self.generation, *args)


def _kernel_material(link, ends, mine, cipher, deriver, path):
    sscis = derive_sscis(ends)
    records = []
    for index, end in enumerate(ends):
        end_path = '%s.ends[%d] (%s)' % (path, end.get('index', index), end['host'])
        port = int(end.get('port') or link.get('port') or 1)
        if end.get('sak') is not None:
            sak = validate_sak(end['sak'], cipher, end_path + '.sak')
            source = 'explicit'
        else:
            sak = deriver.get(derive_sak, cipher, end['host'], end['interface'], port)
            source = 'derived'
        ident = validate_key_id(end['key_id'], end_path + '.key_id') if end.get('key_id') is not None \
            else key_id(sak)
        record = {'host': end['host'], 'interface': end['interface'], 'port': port, 'sci': end.get('sci'),
                  'sak': sak, 'key_id': ident, 'source': source}
        if cipher in XPN_CIPHERS:
            record['ssci'] = validate_ssci(end['ssci'], end_path + '.ssci') if end.get('ssci') is not None \
                else sscis[index]
        records.append(record)
    material = {'tx': records[mine], 'rx': [record for index, record in enumerate(records) if index != mine]}
    if cipher in XPN_CIPHERS:
        material['salt'] = validate_salt(link['salt'], path + '.salt') if link.get('salt') is not None \
            else deriver.get(derive_salt)
    return material


def _mka_material(link, cipher, deriver, path):
    cak, ckn = link.get('cak'), link.get('ckn')
    if (cak is None) != (ckn is None):
        missing = 'ckn' if ckn is None else 'cak'
        raise ValidationError('%s.%s' % (path, missing), 'is missing: give cak and ckn together, or neither (then '
                                                         'both derive from macsec_master_secret)')
    if cak is not None:
        return {'cak': validate_cak(cak, path + '.cak'), 'ckn': validate_ckn(ckn, path + '.ckn'),
                'source': 'explicit'}
    return {'cak': deriver.get(derive_cak, cak_bytes_for(cipher)), 'ckn': deriver.get(derive_ckn),
            'source': 'derived'}


def link_from_inventory(link):
    """A macsec_links entry as link_material() reads it (defaults of the topology contract filled in)."""
    return {
        'name': link['name'], 'provider': link['provider'], 'generation': link.get('generation', 1),
        'cipher': link.get('cipher', 'gcm-aes-128'), 'mode': link.get('mode', 'psk'), 'port': link.get('port', 1),
        'ipsec': link.get('ipsec'), 'radius': link.get('radius'), 'cak': link.get('cak'), 'ckn': link.get('ckn'),
        'salt': link.get('salt'),
        'ends': [dict(end) for end in link['ends']],
    }


def link_from_plan(entry):
    """An entry of a host's plan part (macsec_topology phase=plan: {name, provider, options, end, peers})."""
    options = entry.get('options') or {}
    ends = sorted([entry['end']] + list(entry.get('peers') or ()), key=lambda end: end.get('index', 0))
    link = {key: options.get(key) for key in ('generation', 'cipher', 'mode', 'port', 'ipsec', 'radius', 'cak', 'ckn',
                                              'salt')}
    link.update(name=entry['name'], provider=entry['provider'], ends=[dict(end) for end in ends])
    link['generation'] = link['generation'] if link['generation'] is not None else 1
    return link


# The secrets of a material dict that sit at its top level (the SAKs sit in its tx and rx records).
MATERIAL_SECRETS = ('cak', 'ckn', 'salt', 'ipsec_psk', 'radius_secret')


def secrets_of(material):
    """Every secret value in a material dict (for redaction and for the leak tests)."""
    found = []
    for key in MATERIAL_SECRETS:
        if material.get(key):
            found.append(material[key])
    for record in [material.get('tx')] + list(material.get('rx') or ()):
        if record:
            found.append(record['sak'])
    return found


def fingerprints_of(material):
    """The display fingerprints of a material dict: safe to log, enough to compare two runs."""
    shown = {}
    for key in MATERIAL_SECRETS:
        if material.get(key):
            shown[key] = fingerprint(material[key])
    if material.get('tx'):
        shown['tx'] = {'key_id': material['tx']['key_id'], 'sak': fingerprint(material['tx']['sak'])}
        shown['rx'] = {record['host']: {'key_id': record['key_id'], 'sak': fingerprint(record['sak'])}
                       for record in material['rx']}
    return shown
