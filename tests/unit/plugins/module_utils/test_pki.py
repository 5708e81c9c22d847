# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet PKI (plugins/module_utils/_pki.py): CA, CSRs, certificates, renewal decisions, CRL, CA directory."""

from __future__ import annotations

import datetime
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.l2sec.macsec.plugins.module_utils import _pki

NOW = datetime.datetime(2030, 6, 1, 12, 0, tzinfo=datetime.timezone.utc)
DNS = ['vm1']
IPS = ['10.0.1.1', 'fd00::1']


@pytest.fixture(scope='module')
def ca():
    key = _pki.generate_key('ecdsa-p256')
    return key, _pki.create_ca(key, 'test CA', 3650, NOW)


@pytest.fixture(scope='module')
def host_key():
    return _pki.generate_key('ecdsa-p256')


def issue(ca, public_key, now=NOW, common_name='vm1', dns=tuple(DNS), ips=tuple(IPS), days=365):
    return _pki.issue_certificate(ca[0], ca[1], public_key, common_name, dns, ips, days, now)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


# ---------------------------------------------------------------------------------------------------------------
# CA, CSR, certificate content.

def test_ca_is_a_self_signed_ca_that_signs_certificates_and_crls_only(ca):
    cert = ca[1]
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign
    assert _pki.issued_by(cert, cert)
    assert _pki.not_after(cert) - NOW == datetime.timedelta(days=3650)


def test_csr_carries_names_and_proves_the_key(host_key):
    csr = _pki.load_csr(_pki.make_csr(host_key, 'vm1', ['VM1.', 'vm1'], ['10.0.1.1']))
    assert _pki.names_of(csr) == (['vm1'], ['10.0.1.1'])
    assert _pki.public_key_fingerprint(csr.public_key()) == _pki.public_key_fingerprint(host_key.public_key())


def test_a_csr_with_a_broken_signature_is_refused(host_key):
    der = bytearray(x509.load_pem_x509_csr(_pki.make_csr(host_key, 'vm1', DNS, []).encode()).public_bytes(
        serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature
    pem = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(_pki.PkiError, match='signature does not verify'):
        _pki.load_csr(pem)
    with pytest.raises(_pki.PkiError, match='not a PEM'):
        _pki.load_csr('garbage')


def test_certificate_content_fits_eap_tls_and_ikev2(ca, host_key):
    cert = issue(ca, host_key.public_key())
    assert _pki.issued_by(cert, ca[1])
    assert cert.subject.rfc4514_string() == 'CN=vm1'
    assert _pki.names_of(cert) == (['vm1'], ['10.0.1.1', 'fd00::1'])
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca[1].extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert _pki.not_before(cert) == NOW - _pki.BACKDATE
    assert _pki.not_after(cert) == NOW + datetime.timedelta(days=365)


@pytest.mark.parametrize('key_type', _pki.KEY_TYPES)
def test_every_key_type_works_for_ca_and_host(key_type):
    ca_key = _pki.generate_key(key_type)
    ca_cert = _pki.create_ca(ca_key, 'CA ' + key_type, 10, NOW)
    host = _pki.generate_key(key_type)
    csr = _pki.load_csr(_pki.make_csr(host, 'h', ['h'], []))
    cert = _pki.issue_certificate(ca_key, ca_cert, csr.public_key(), 'h', ['h'], [], 5, NOW)
    assert _pki.issued_by(cert, ca_cert)
    assert _pki.key_type_of(host) == key_type == _pki.key_type_of(cert.public_key())
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment == (key_type == 'rsa-3072')


def test_bad_names_are_refused():
    with pytest.raises(_pki.PkiError, match='not an IP address'):
        _pki.normalize_names([], ['10.0.1.1/24'])
    with pytest.raises(_pki.PkiError, match='at least one DNS name or IP'):
        _pki.make_csr(_pki.generate_key(), 'h', [], [])
    with pytest.raises(_pki.PkiError, match='not one of'):
        _pki.generate_key('dsa-1024')


def test_summary_has_no_key_material(ca, host_key):
    cert = issue(ca, host_key.public_key())
    summary = _pki.certificate_summary(cert)
    assert summary['serial'] == '%x' % cert.serial_number
    assert summary['key_fingerprint'] == _pki.public_key_fingerprint(host_key.public_key())
    text = _pki.summary_text(summary)
    private = _pki.private_key_pem(host_key).decode()
    body = ''.join(private.splitlines()[1:-1])
    assert body[:40] not in text and 'PRIVATE' not in text
    assert 'dns_names: vm1' in text and 'not_after: 2031-06-01T12:00:00Z' in text


# ---------------------------------------------------------------------------------------------------------------
# Renewal decisions.

def reasons(ca, cert, public_key, now=NOW, common_name='vm1', dns=tuple(DNS), ips=tuple(IPS), revoked=()):
    return _pki.reissue_reasons(cert, ca[1], public_key, common_name, dns, ips, 30, revoked, now)


def test_a_fitting_certificate_is_kept(ca, host_key):
    cert = issue(ca, host_key.public_key())
    assert reasons(ca, cert, host_key.public_key()) == []
    # Names are compared as sets, in canonical form.
    assert reasons(ca, cert, host_key.public_key(), dns=['VM1'], ips=['fd00:0::1', '10.0.1.1']) == []


def test_renewal_reasons(ca, host_key):
    cert = issue(ca, host_key.public_key())
    other_key = _pki.generate_key()
    other_ca_key = _pki.generate_key()
    other_ca = (other_ca_key, _pki.create_ca(other_ca_key, 'test CA', 3650, NOW))
    assert reasons(ca, None, host_key.public_key()) == ['the host has no certificate']
    assert reasons(ca, cert, other_key.public_key()) == ['the host key changed']
    assert reasons(ca, cert, host_key.public_key(), dns=['vm1', 'vm1.lab']) == \
        ['the subject alternative names changed']
    assert reasons(ca, cert, host_key.public_key(), ips=['10.0.1.1']) == ['the subject alternative names changed']
    assert reasons(ca, cert, host_key.public_key(), common_name='vm1.lab') == ['the subject changed']
    # Same subject name, another key: the CA was replaced.
    assert reasons(other_ca, cert, host_key.public_key()) == \
        ['the CA changed: the certificate is not signed by the current CA']
    assert reasons(ca, cert, host_key.public_key(), revoked={'%x' % cert.serial_number}) == \
        ['the certificate is on the CRL (revoked or superseded)']


def test_renewal_window_boundaries(ca, host_key):
    cert = issue(ca, host_key.public_key())  # expires NOW + 365 days
    expires = _pki.not_after(cert)
    outside = expires - datetime.timedelta(days=30, seconds=1)
    inside = expires - datetime.timedelta(days=30)
    assert reasons(ca, cert, host_key.public_key(), now=outside) == []
    assert reasons(ca, cert, host_key.public_key(), now=inside) == \
        ['the certificate expires on 2031-06-01T12:00:00Z, inside the renewal window of 30 days']
    assert reasons(ca, cert, host_key.public_key(), now=expires) == \
        ['the certificate expired on 2031-06-01T12:00:00Z']


# ---------------------------------------------------------------------------------------------------------------
# CRL and index.

def test_crl_lists_the_revoked_serial_and_is_signed_by_the_ca(ca, host_key):
    cert = issue(ca, host_key.public_key())
    index = {'certificates': []}
    _pki.record_issued(index, 'vm2', cert, NOW)
    assert _pki.revoke_hosts(index, {'vm2'}, NOW) == ['%x' % cert.serial_number]
    crl = _pki.make_crl(ca[0], ca[1], _pki.crl_entries(index, NOW), 7, 90, NOW)
    assert crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None
    assert _pki.crl_is_signed_by(crl, ca[1]) and _pki.crl_number(crl) == 7
    assert _pki.crl_reasons(crl, ca[1], _pki.crl_entries(index, NOW), 30, NOW) == []
    loaded = _pki.load_crl(_pki.crl_pem(crl))
    assert _pki.crl_serials(loaded) == ['%x' % cert.serial_number]


def test_crl_reasons(ca, host_key):
    serial = {'serial': 'abc', 'revoked_at': '2030-01-01T00:00:00Z', 'reason': 'revoked'}
    crl = _pki.make_crl(ca[0], ca[1], [], 1, 90, NOW)
    other_key = _pki.generate_key()
    other_ca = _pki.create_ca(other_key, 'test CA', 10, NOW)
    assert _pki.crl_reasons(None, ca[1], [], 30, NOW) == ['there is no CRL']
    assert _pki.crl_reasons(crl, ca[1], [serial], 30, NOW) == ['the revoked certificates changed']
    assert _pki.crl_reasons(crl, other_ca, [], 30, NOW) == ['the CRL is not signed by the current CA']
    assert _pki.crl_reasons(crl, ca[1], [], 30, NOW + datetime.timedelta(days=60)) == \
        ['the CRL\'s next update is inside the renewal window of 30 days']


def test_index_supersedes_revokes_and_forgets_expired(ca, host_key):
    index = {'certificates': []}
    first = issue(ca, host_key.public_key(), days=10)
    second = issue(ca, host_key.public_key())
    _pki.record_issued(index, 'vm1', first, NOW)
    _pki.record_issued(index, 'vm1', second, NOW)
    statuses = [(entry['serial'], entry['status']) for entry in index['certificates']]
    assert statuses == [('%x' % first.serial_number, 'superseded'), ('%x' % second.serial_number, 'current')]
    assert [entry['reason'] for entry in _pki.crl_entries(index, NOW)] == ['superseded']
    assert _pki.crl_entries(index, NOW + datetime.timedelta(days=11)) == []  # the first expired
    assert _pki.revoked_serials(index) == {'%x' % first.serial_number}
    assert _pki.revoke_serials(index, ['0A:BC', '%x' % second.serial_number], NOW) == \
        ['abc', '%x' % second.serial_number]
    assert _pki.revoke_serials(index, ['abc'], NOW) == []  # already revoked
    assert not _pki.adopt(index, 'vm1', second)


# ---------------------------------------------------------------------------------------------------------------
# Files.

def test_ca_store_modes_lock_and_pairing(tmp_path):
    directory = tmp_path / 'pki'
    assert _pki.ensure_private_dir(str(directory))
    assert mode(directory) == 0o700
    os.chmod(directory, 0o755)
    assert _pki.ensure_private_dir(str(directory)) and mode(directory) == 0o700
    assert not _pki.ensure_private_dir(str(directory))
    store = _pki.CaStore(str(directory))
    assert not store.exists()
    with pytest.raises(_pki.PkiError, match='no CA in'):
        store.load()
    with store.locked():
        key, cert = store.create('CA', 'ed25519', 10)
    assert mode(directory / 'ca.key') == 0o600 and mode(directory / 'ca.pem') == 0o600
    assert mode(directory / '.lock') == 0o600
    loaded_key, loaded_cert = store.load()
    assert loaded_cert == cert
    os.chmod(directory / 'ca.pem', 0o644)
    assert store.tighten() == ['ca.pem']
    # A certificate of another key next to the CA key is refused, not silently used.
    other = _pki.create_ca(_pki.generate_key(), 'CA', 10)
    _pki.write_file(str(directory / 'ca.pem'), other.public_bytes(serialization.Encoding.PEM), 0o600)
    with pytest.raises(_pki.PkiError, match='not a pair'):
        store.load()


def test_index_of_another_ca_starts_afresh(tmp_path, ca, host_key):
    store = _pki.CaStore(str(tmp_path))
    index = store.load_index(ca[1])
    _pki.record_issued(index, 'vm1', issue(ca, host_key.public_key()), NOW)
    store.save_index(index)
    assert len(store.load_index(ca[1])['certificates']) == 1
    other = _pki.create_ca(_pki.generate_key(), 'test CA', 10, NOW)
    assert store.load_index(other)['certificates'] == []


def test_write_file_is_atomic_with_its_mode_from_the_start(tmp_path):
    path = str(tmp_path / 'host.key')
    _pki.write_file(path, b'one', 0o600)
    assert mode(path) == 0o600 and _pki.read_file(path) == b'one'
    _pki.write_file(path, b'two', 0o644)
    assert mode(path) == 0o644 and _pki.read_file(path) == b'two'
    assert sorted(os.listdir(tmp_path)) == ['host.key']  # no temporary file left behind
    assert _pki.read_file(str(tmp_path / 'missing')) is None and _pki.file_mode(str(tmp_path / 'missing')) is None


@pytest.mark.parametrize('key_type', _pki.KEY_TYPES)
def test_crl_signature_check_by_hand_for_every_key_type(key_type):
    """crl_is_signed_by checks the signature itself (cryptography 38 on the hosts cannot for Ed25519)."""
    ca_key = _pki.generate_key(key_type)
    ca_cert = _pki.create_ca(ca_key, 'same name', 10, NOW)
    impostor_key = _pki.generate_key(key_type)
    impostor = _pki.make_crl(impostor_key, _pki.create_ca(impostor_key, 'same name', 10, NOW), [], 1, 5, NOW)
    assert _pki.crl_is_signed_by(_pki.make_crl(ca_key, ca_cert, [], 1, 5, NOW), ca_cert)
    assert not _pki.crl_is_signed_by(impostor, ca_cert)
