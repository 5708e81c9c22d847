# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet PKI: host keys and CSRs (on the host), the CA, certificates and the CRL (on the controller).

Private to the collection and free of Ansible imports (docs/keys.md is its user-facing page). The host side
(keys, CSRs, reading what is installed) runs on Debian 12's python3-cryptography 38, so this file keeps to
what cryptography 38 offers and adds the few newer conveniences it needs itself (UTC datetimes, issuer check).

Private keys are never returned by anything here except to write them to a 0600 file on the machine that made
them; summaries (for diffs and reports) carry subjects, names, serials, dates and public-key fingerprints only.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import json
import os

from ansible_collections.l2sec.macsec.plugins.module_utils import _files

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows, where no controller runs anyway
    fcntl = None

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
else:
    HAS_CRYPTOGRAPHY = True

KEY_TYPES = ('ecdsa-p256', 'rsa-3072', 'ed25519')
DEFAULT_KEY_TYPE = 'ecdsa-p256'
# Certificates start an hour in the past so that a host whose clock lags a little still accepts them.
BACKDATE = datetime.timedelta(hours=1)

KEY_FILE = 'host.key'
CERT_FILE = 'host.pem'
CA_FILE = 'ca.pem'
CRL_FILE = 'crl.pem'
HOST_FILES = {'certificate': CERT_FILE, 'ca_certificate': CA_FILE, 'crl': CRL_FILE}
KEY_MODE = 0o600
PUBLIC_MODE = 0o644

# The controller's PKI directory.
CA_KEY_FILE = 'ca.key'
CA_CERT_FILE = 'ca.pem'
CA_CRL_FILE = 'crl.pem'
INDEX_FILE = 'index.json'
LOCK_FILE = '.lock'
CA_DIR_MODE = 0o700
CA_FILE_MODE = 0o600

STATUS_CURRENT = 'current'
STATUS_SUPERSEDED = 'superseded'
STATUS_REVOKED = 'revoked'


class PkiError(Exception):
    """A problem with PKI input or state; the message says what to do and never holds key material."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _aware(value):
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.timezone.utc)


def not_after(cert):
    return _aware(getattr(cert, 'not_valid_after_utc', None) or cert.not_valid_after)


def not_before(cert):
    return _aware(getattr(cert, 'not_valid_before_utc', None) or cert.not_valid_before)


def crl_next_update(crl):
    value = getattr(crl, 'next_update_utc', None) or crl.next_update
    return _aware(value) if value is not None else None


def crl_last_update(crl):
    return _aware(getattr(crl, 'last_update_utc', None) or crl.last_update)


def iso(value):
    return value.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# ---------------------------------------------------------------------------------------------------------------
# Keys.

def generate_key(key_type=DEFAULT_KEY_TYPE):
    if key_type == 'ecdsa-p256':
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == 'rsa-3072':
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if key_type == 'ed25519':
        return ed25519.Ed25519PrivateKey.generate()
    raise PkiError('key type %r is not one of %s' % (key_type, ', '.join(KEY_TYPES)))


def key_type_of(key):
    """The KEY_TYPES name of a private or public key; other keys get a descriptive name (never a match)."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return 'ecdsa-p256' if key.curve.name == 'secp256r1' else 'ecdsa-%s' % key.curve.name
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return 'rsa-%d' % key.key_size
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return 'ed25519'
    return type(key).__name__


def private_key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(data):
    return serialization.load_pem_private_key(data, password=None)


def public_key_fingerprint(public_key):
    """'sha256:' + the SHA-256 of the SubjectPublicKeyInfo DER, the same as
    `openssl pkey -pubout -outform DER | sha256sum` (a public value: safe in diffs and reports)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return 'sha256:' + hashlib.sha256(der).hexdigest()


def _signature_hash(key):
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


# ---------------------------------------------------------------------------------------------------------------
# Names.

def normalize_names(dns_names, ip_addresses):
    """Sorted, de-duplicated DNS names (lowercase) and IP addresses (canonical text); raises on a bad IP."""
    dns = sorted({str(name).strip().lower().rstrip('.') for name in dns_names or () if str(name).strip()})
    ips = []
    for value in ip_addresses or ():
        try:
            ips.append(ipaddress.ip_address(str(value).strip()))
        except ValueError:
            raise PkiError('%r is not an IP address: give addresses without prefix length, like 10.0.1.1'
                           % str(value)) from None
    return dns, [str(ip) for ip in sorted(set(ips), key=lambda ip: (ip.version, ip))]


def _subject(common_name):
    if not common_name:
        raise PkiError('the common name is empty: give the host\'s name')
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, str(common_name))])


def _san(dns_names, ip_addresses):
    dns, ips = normalize_names(dns_names, ip_addresses)
    general = [x509.DNSName(name) for name in dns] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if not general:
        raise PkiError('a certificate needs at least one DNS name or IP address (IKEv2 and EAP-TLS identities '
                       'are matched against them)')
    return x509.SubjectAlternativeName(general)


def names_of(cert_or_csr):
    """(sorted DNS names, sorted IPs) of a certificate's or CSR's SAN extension."""
    try:
        san = cert_or_csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return normalize_names(san.get_values_for_type(x509.DNSName),
                           [str(ip) for ip in san.get_values_for_type(x509.IPAddress)])


def common_name_of(name):
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attributes[0].value if attributes else None


# ---------------------------------------------------------------------------------------------------------------
# CSRs (host side).

def make_csr(key, common_name, dns_names, ip_addresses):
    builder = x509.CertificateSigningRequestBuilder().subject_name(_subject(common_name))
    builder = builder.add_extension(_san(dns_names, ip_addresses), critical=False)
    return builder.sign(key, _signature_hash(key)).public_bytes(serialization.Encoding.PEM).decode('ascii')


def load_csr(pem):
    """A CSR whose signature proves possession of its key; PkiError otherwise."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode('ascii') if isinstance(pem, str) else pem)
    except (ValueError, TypeError):
        raise PkiError('the CSR is not a PEM certificate signing request') from None
    if not csr.is_signature_valid:
        raise PkiError('the CSR\'s signature does not verify: it was not made with the key it carries')
    return csr


# ---------------------------------------------------------------------------------------------------------------
# Certificates.

def load_certificate(pem):
    """A certificate from PEM text or bytes, or None when there is none or it does not parse."""
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode('ascii') if isinstance(pem, str) else pem)
    except (ValueError, TypeError, UnicodeEncodeError):
        return None


def certificate_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def certificate_fingerprint(cert):
    return 'sha256:' + cert.fingerprint(hashes.SHA256()).hex()


def create_ca(key, common_name, days, now=None):
    """A self-signed CA certificate that may sign end-entity certificates and CRLs, nothing below them."""
    now = now or utcnow()
    name = _subject(common_name)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                            data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                            crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    return builder.sign(key, _signature_hash(key))


def _end_entity_key_usage(public_key):
    # RSA keys may also carry TLS 1.2 RSA key exchange (keyEncipherment); EC and Ed25519 keys only sign.
    return x509.KeyUsage(digital_signature=True, content_commitment=False,
                         key_encipherment=isinstance(public_key, rsa.RSAPublicKey), data_encipherment=False,
                         key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False,
                         decipher_only=False)


# EAP-TLS peers and RADIUS servers, and IKEv2 peers (strongSwan checks them when present), need both usages.
EXTENDED_KEY_USAGES = ('clientAuth', 'serverAuth')


def issue_certificate(ca_key, ca_cert, public_key, common_name, dns_names, ip_addresses, days, now=None):
    """An end-entity certificate for EAP-TLS and IKEv2: the names come from the caller, the key from the CSR."""
    now = now or utcnow()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (x509.CertificateBuilder().subject_name(_subject(common_name)).issuer_name(ca_cert.subject)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - BACKDATE).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(_end_entity_key_usage(public_key), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH,
                                                     ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(_san(dns_names, ip_addresses), critical=False)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                              critical=False))
    return builder.sign(ca_key, _signature_hash(ca_key))


def _verify_signature(issuer_public_key, signature, data, hash_algorithm):
    if isinstance(issuer_public_key, rsa.RSAPublicKey):
        issuer_public_key.verify(signature, data, padding.PKCS1v15(), hash_algorithm)
    elif isinstance(issuer_public_key, ec.EllipticCurvePublicKey):
        issuer_public_key.verify(signature, data, ec.ECDSA(hash_algorithm))
    else:
        issuer_public_key.verify(signature, data)


def issued_by(cert, ca_cert):
    """True when ca_cert's key signed cert (cryptography 38 has no verify_directly_issued_by)."""
    if cert.issuer != ca_cert.subject:
        return False
    try:
        _verify_signature(ca_cert.public_key(), cert.signature, cert.tbs_certificate_bytes,
                          cert.signature_hash_algorithm)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def extended_key_usages(cert):
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    names = {ExtendedKeyUsageOID.CLIENT_AUTH: 'clientAuth', ExtendedKeyUsageOID.SERVER_AUTH: 'serverAuth'}
    return sorted(names.get(oid, oid.dotted_string) for oid in usages)


def certificate_summary(cert):
    """What a diff or report shows of a certificate: never key material."""
    if cert is None:
        return None
    dns, ips = names_of(cert)
    return {
        'subject': cert.subject.rfc4514_string(),
        'issuer': cert.issuer.rfc4514_string(),
        'dns_names': dns,
        'ip_addresses': ips,
        'serial': '%x' % cert.serial_number,
        'not_before': iso(not_before(cert)),
        'not_after': iso(not_after(cert)),
        'key_fingerprint': public_key_fingerprint(cert.public_key()),
        'extended_key_usage': extended_key_usages(cert),
    }


def reissue_reasons(cert, ca_cert, public_key, common_name, dns_names, ip_addresses, renew_before_days,
                    revoked_serials=(), now=None):
    """Why `cert` cannot stay as the host's certificate; an empty list when it can.

    The certificate must exist, be issued by the current CA, carry the requested key, subject and names and the
    EAP-TLS/IKEv2 usages, not be on the CRL, and be valid for longer than the renewal window.
    """
    now = now or utcnow()
    if cert is None:
        return ['the host has no certificate']
    reasons = []
    if not issued_by(cert, ca_cert):
        reasons.append('the CA changed: the certificate is not signed by the current CA')
    if public_key_fingerprint(cert.public_key()) != public_key_fingerprint(public_key):
        reasons.append('the host key changed')
    if common_name_of(cert.subject) != common_name or len(cert.subject) != 1:
        reasons.append('the subject changed')
    if names_of(cert) != normalize_names(dns_names, ip_addresses):
        reasons.append('the subject alternative names changed')
    if extended_key_usages(cert) != sorted(EXTENDED_KEY_USAGES):
        reasons.append('the extended key usage is not clientAuth + serverAuth')
    if '%x' % cert.serial_number in revoked_serials:
        reasons.append('the certificate is on the CRL (revoked or superseded)')
    expires = not_after(cert)
    if expires <= now:
        reasons.append('the certificate expired on %s' % iso(expires))
    elif expires - now <= datetime.timedelta(days=renew_before_days):
        reasons.append('the certificate expires on %s, inside the renewal window of %d days'
                       % (iso(expires), renew_before_days))
    return reasons


# ---------------------------------------------------------------------------------------------------------------
# The CRL.

def load_crl(pem):
    if not pem:
        return None
    try:
        return x509.load_pem_x509_crl(pem.encode('ascii') if isinstance(pem, str) else pem)
    except (ValueError, TypeError, UnicodeEncodeError):
        return None


def crl_serials(crl):
    return sorted('%x' % entry.serial_number for entry in crl) if crl is not None else []


def crl_number(crl):
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def make_crl(ca_key, ca_cert, entries, number, days, now=None):
    """A CRL signed by the CA, listing entries [{serial, revoked_at, reason}] (superseded or not)."""
    now = now or utcnow()
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now - BACKDATE).next_update(now + datetime.timedelta(days=days))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                              critical=False))
    for entry in sorted(entries, key=lambda item: int(item['serial'], 16)):
        reason = x509.ReasonFlags.superseded if entry.get('reason') == STATUS_SUPERSEDED \
            else x509.ReasonFlags.unspecified
        revoked = (x509.RevokedCertificateBuilder().serial_number(int(entry['serial'], 16))
                   .revocation_date(parse_iso(entry['revoked_at']))
                   .add_extension(x509.CRLReason(reason), critical=False).build())
        builder = builder.add_revoked_certificate(revoked)
    return builder.sign(ca_key, _signature_hash(ca_key))


def crl_pem(crl):
    return crl.public_bytes(serialization.Encoding.PEM).decode('ascii')


def crl_summary(crl):
    if crl is None:
        return None
    return {
        'issuer': crl.issuer.rfc4514_string(),
        'number': crl_number(crl),
        'last_update': iso(crl_last_update(crl)),
        'next_update': iso(crl_next_update(crl)) if crl_next_update(crl) else None,
        'revoked_serials': crl_serials(crl),
    }


def crl_is_signed_by(crl, ca_cert):
    """True when ca_cert's key signed the CRL (checked by hand: cryptography 38 cannot check Ed25519 CRLs)."""
    if crl.issuer != ca_cert.subject:
        return False
    try:
        _verify_signature(ca_cert.public_key(), crl.signature, crl.tbs_certlist_bytes, crl.signature_hash_algorithm)
    except (InvalidSignature, TypeError, ValueError):
        return False
    return True


def summary_text(summary):
    """A summary as sorted 'key: value' lines, the before/after text of a diff; '(none)' for nothing."""
    if summary is None:
        return '(none)\n'
    lines = []
    for key in sorted(summary):
        value = summary[key]
        lines.append('%s: %s' % (key, ', '.join(str(item) for item in value) if isinstance(value, list) else value))
    return '\n'.join(lines) + '\n'


def parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


# ---------------------------------------------------------------------------------------------------------------
# Files: written whole and atomically, with their mode from the first byte.

def write_file(path, data, mode):
    """Write bytes to path atomically (temp file in the same directory, then rename), created with `mode`."""
    _files.write_atomic(path, data, mode)


read_file = _files.read_bytes
file_mode = _files.file_mode


def ensure_private_dir(path, mode=CA_DIR_MODE):
    """Create the directory with `mode`, or tighten an existing one to it; True when something changed."""
    if not os.path.isdir(path):
        os.makedirs(path, mode=mode, exist_ok=True)  # exist_ok: a parallel fork may win the race
        os.chmod(path, mode)  # makedirs' mode is filtered by the umask
        return True
    if file_mode(path) != mode:
        os.chmod(path, mode)
        return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# The controller's CA directory: ca.key, ca.pem, crl.pem, index.json (the certificates issued and their status).

class CaStore:
    """One CA in one directory (0700, files 0600), safe against parallel forks through a lock file."""

    def __init__(self, directory):
        self.directory = os.path.abspath(os.path.expanduser(directory))

    def path(self, name):
        return os.path.join(self.directory, name)

    @contextlib.contextmanager
    def locked(self):
        """Hold an exclusive lock on the directory: each host's signing runs in its own fork."""
        with open(self.path(LOCK_FILE), 'a+b') as handle:
            os.chmod(self.path(LOCK_FILE), CA_FILE_MODE)
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)

    def exists(self):
        return os.path.exists(self.path(CA_KEY_FILE)) and os.path.exists(self.path(CA_CERT_FILE))

    def no_ca(self):
        return PkiError('no CA in %s: run l2sec.macsec.macsec_ca (the l2sec.macsec.pki role does) first'
                        % self.directory)

    def load(self):
        """(CA key, CA certificate); PkiError when missing or not a pair."""
        key_data, cert_data = read_file(self.path(CA_KEY_FILE)), read_file(self.path(CA_CERT_FILE))
        if key_data is None or cert_data is None:
            raise self.no_ca()
        try:
            key = load_private_key(key_data)
        except (ValueError, TypeError):
            raise PkiError('%s is not an unencrypted PEM private key' % self.path(CA_KEY_FILE)) from None
        cert = load_certificate(cert_data)
        if cert is None:
            raise PkiError('%s is not a PEM certificate' % self.path(CA_CERT_FILE))
        if public_key_fingerprint(cert.public_key()) != public_key_fingerprint(key.public_key()):
            raise PkiError('%s and %s are not a pair: restore both from the same backup'
                           % (self.path(CA_KEY_FILE), self.path(CA_CERT_FILE)))
        return key, cert

    def create(self, common_name, key_type, days, now=None):
        key = generate_key(key_type)
        cert = create_ca(key, common_name, days, now)
        # The key first: a certificate without its key would be a CA that cannot sign.
        write_file(self.path(CA_KEY_FILE), private_key_pem(key), CA_FILE_MODE)
        write_file(self.path(CA_CERT_FILE), cert.public_bytes(serialization.Encoding.PEM), CA_FILE_MODE)
        return key, cert

    def tighten(self):
        """Bring the CA files to 0600; the names of the files that were looser."""
        fixed = []
        for name in (CA_KEY_FILE, CA_CERT_FILE, CA_CRL_FILE, INDEX_FILE):
            mode = file_mode(self.path(name))
            if mode is not None and mode != CA_FILE_MODE:
                os.chmod(self.path(name), CA_FILE_MODE)
                fixed.append(name)
        return fixed

    def load_index(self, ca_cert):
        """The issued certificates of this CA; an index of another CA (the CA was replaced) starts afresh."""
        data = read_file(self.path(INDEX_FILE))
        fingerprint = certificate_fingerprint(ca_cert)
        index = json.loads(data.decode('utf-8')) if data else None
        if not index or index.get('ca') != fingerprint:
            index = {'version': 1, 'ca': fingerprint, 'crl_number': 0, 'certificates': []}
        return index

    def save_index(self, index):
        write_file(self.path(INDEX_FILE), (json.dumps(index, indent=1, sort_keys=True) + '\n').encode('utf-8'),
                   CA_FILE_MODE)


def record_issued(index, host, cert, now=None):
    """Add a new current certificate of host; its earlier current ones become superseded (and go on the CRL)."""
    stamp = iso(now or utcnow())
    for entry in index['certificates']:
        if entry['host'] == host and entry['status'] == STATUS_CURRENT:
            entry.update(status=STATUS_SUPERSEDED, revoked_at=stamp)
    index['certificates'].append({'serial': '%x' % cert.serial_number, 'host': host, 'status': STATUS_CURRENT,
                                  'not_after': iso(not_after(cert))})


def adopt(index, host, cert):
    """Record a certificate of this CA that the index lacks (an index restored from an older backup)."""
    serial = '%x' % cert.serial_number
    if any(entry['serial'] == serial for entry in index['certificates']):
        return False
    index['certificates'].append({'serial': serial, 'host': host, 'status': STATUS_CURRENT,
                                  'not_after': iso(not_after(cert))})
    return True


def revoke_hosts(index, hosts, now=None):
    """Mark every certificate of the given hosts revoked (for good); the serials newly revoked."""
    stamp = iso(now or utcnow())
    changed = []
    for entry in index['certificates']:
        if entry['host'] in hosts and entry['status'] != STATUS_REVOKED:
            entry.update(status=STATUS_REVOKED, revoked_at=stamp)
            changed.append(entry['serial'])
    return changed


def revoke_serials(index, serials, now=None):
    """Revoke serials given by hand (hex); a serial unknown to the index is recorded without a host."""
    stamp = iso(now or utcnow())
    changed = []
    for serial in serials:
        serial = '%x' % int(str(serial).replace(':', ''), 16)
        entry = next((item for item in index['certificates'] if item['serial'] == serial), None)
        if entry is None:
            index['certificates'].append({'serial': serial, 'host': None, 'status': STATUS_REVOKED,
                                          'revoked_at': stamp, 'not_after': None})
            changed.append(serial)
        elif entry['status'] != STATUS_REVOKED:
            entry.update(status=STATUS_REVOKED, revoked_at=stamp)
            changed.append(serial)
    return changed


def crl_entries(index, now=None):
    """What the CRL lists: revoked and superseded certificates that have not expired yet."""
    now = now or utcnow()
    entries = []
    for entry in index['certificates']:
        if entry['status'] == STATUS_CURRENT:
            continue
        if entry.get('not_after') and parse_iso(entry['not_after']) <= now:
            continue  # an expired certificate is refused anyway; the CRL need not grow forever
        entries.append({'serial': entry['serial'], 'revoked_at': entry['revoked_at'], 'reason': entry['status']})
    return entries


def revoked_serials(index):
    return frozenset(entry['serial'] for entry in index['certificates'] if entry['status'] != STATUS_CURRENT)


def crl_reasons(crl, ca_cert, entries, renew_before_days, now=None):
    """Why the CRL must be signed anew; an empty list when it can stay."""
    now = now or utcnow()
    if crl is None:
        return ['there is no CRL']
    reasons = []
    if not crl_is_signed_by(crl, ca_cert):
        reasons.append('the CRL is not signed by the current CA')
    if crl_serials(crl) != sorted(entry['serial'] for entry in entries):
        reasons.append('the revoked certificates changed')
    next_update = crl_next_update(crl)
    if next_update is None or next_update - now <= datetime.timedelta(days=renew_before_days):
        reasons.append('the CRL\'s next update is inside the renewal window of %d days' % renew_before_days)
    return reasons
