# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host side of the PKI: macsec_cert_request and macsec_cert_install, in temporary directories."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.module_utils import _pki
from ansible_collections.l2sec.macsec.plugins.modules import macsec_cert_install, macsec_cert_request


def run(module, capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        module.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def request(capsys, path, **options):
    args = {'path': str(path), 'common_name': 'vm1', 'dns_names': ['vm1'], 'ip_addresses': ['10.0.1.1']}
    args.update(options)
    return run(macsec_cert_request, capsys, args)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(scope='module')
def ca():
    key = _pki.generate_key()
    return key, _pki.create_ca(key, 'test CA', 10)


def test_request_makes_the_key_once_with_mode_0600(capsys, tmp_path):
    code, first = request(capsys, tmp_path, _ansible_diff=True)
    assert code == 0 and first['changed'] is True and first['key_action'] == 'created'
    key_path = tmp_path / 'host.key'
    assert mode(key_path) == 0o600
    key = _pki.load_private_key(key_path.read_bytes())
    assert first['public_key_fingerprint'] == _pki.public_key_fingerprint(key.public_key())
    assert first['diff']['before'] == '(none)\n' and first['public_key_fingerprint'] in first['diff']['after']
    assert 'PRIVATE' not in json.dumps(first)
    csr = _pki.load_csr(first['csr'])
    assert _pki.names_of(csr) == (['vm1'], ['10.0.1.1'])
    assert first['certificate'] is None
    assert first['installed'] == {'certificate': None, 'ca_certificate': None, 'crl': None}
    code, second = request(capsys, tmp_path)
    assert second['changed'] is False and second['key_action'] == 'kept'
    assert second['public_key_fingerprint'] == first['public_key_fingerprint']


def test_request_in_check_mode_writes_nothing_but_returns_a_csr(capsys, tmp_path):
    code, result = request(capsys, tmp_path / 'pki', _ansible_check_mode=True)
    assert code == 0 and result['changed'] is True and result['key_action'] == 'created'
    assert _pki.load_csr(result['csr'])
    assert not (tmp_path / 'pki').exists()


def test_request_fixes_the_mode_and_replaces_a_key_of_another_type(capsys, tmp_path):
    request(capsys, tmp_path)
    os.chmod(tmp_path / 'host.key', 0o644)
    code, fixed = request(capsys, tmp_path)
    assert fixed['key_action'] == 'mode fixed' and mode(tmp_path / 'host.key') == 0o600
    code, replaced = request(capsys, tmp_path, key_type='ed25519')
    assert replaced['key_action'] == 'replaced' and replaced['key_type'] == 'ed25519'
    assert replaced['public_key_fingerprint'] != fixed['public_key_fingerprint']
    code, regenerated = request(capsys, tmp_path, key_type='ed25519', regenerate=True)
    assert regenerated['key_action'] == 'replaced'
    assert regenerated['public_key_fingerprint'] != replaced['public_key_fingerprint']


def test_request_refuses_bad_names(capsys, tmp_path):
    code, result = request(capsys, tmp_path, ip_addresses=['10.0.1.1/24'])
    assert code == 1 and 'not an IP address' in result['msg']


def issued_for(ca, path):
    key = _pki.load_private_key((path / 'host.key').read_bytes())
    return _pki.certificate_pem(_pki.issue_certificate(ca[0], ca[1], key.public_key(), 'vm1', ['vm1'], [], 5))


def test_install_writes_public_files_0644_once_and_request_sees_them(capsys, tmp_path, ca):
    request(capsys, tmp_path)
    cert = issued_for(ca, tmp_path)
    crl = _pki.crl_pem(_pki.make_crl(ca[0], ca[1], [], 1, 5))
    args = {'path': str(tmp_path), 'certificate': cert, 'ca_certificate': _pki.certificate_pem(ca[1]), 'crl': crl}
    code, planned = run(macsec_cert_install, capsys, dict(args, _ansible_check_mode=True, _ansible_diff=True))
    assert planned['changed'] is True and len(planned['written']) == 3 and not (tmp_path / 'host.pem').exists()
    assert 'serial: %x' % _pki.load_certificate(cert).serial_number in planned['diff']['after']
    code, first = run(macsec_cert_install, capsys, args)
    assert code == 0 and first['changed'] is True
    assert {name: mode(tmp_path / name) for name in ('host.pem', 'ca.pem', 'crl.pem', 'host.key')} == {
        'host.pem': 0o644, 'ca.pem': 0o644, 'crl.pem': 0o644, 'host.key': 0o600}
    code, second = run(macsec_cert_install, capsys, args)
    assert second['changed'] is False
    code, seen = request(capsys, tmp_path)
    assert seen['certificate'] == cert
    assert seen['installed'] == {'certificate': hashlib.sha256(cert.encode()).hexdigest(),
                                 'ca_certificate': hashlib.sha256(args['ca_certificate'].encode()).hexdigest(),
                                 'crl': hashlib.sha256(crl.encode()).hexdigest()}
    os.chmod(tmp_path / 'ca.pem', 0o600)  # a wrong mode reads as "not installed", so the role installs again
    code, seen = request(capsys, tmp_path)
    assert seen['installed']['ca_certificate'] is None


def test_install_refuses_a_certificate_of_another_key_or_ca(capsys, tmp_path, ca):
    request(capsys, tmp_path)
    stranger = _pki.certificate_pem(_pki.issue_certificate(ca[0], ca[1], _pki.generate_key().public_key(), 'vm1',
                                                           ['vm1'], [], 5))
    ca_pem = _pki.certificate_pem(ca[1])
    code, result = run(macsec_cert_install, capsys, {'path': str(tmp_path), 'certificate': stranger,
                                                     'ca_certificate': ca_pem})
    assert code == 1 and 'for another key' in result['msg']
    other_key = _pki.generate_key()
    other_ca = _pki.certificate_pem(_pki.create_ca(other_key, 'test CA', 10))
    code, result = run(macsec_cert_install, capsys, {'path': str(tmp_path), 'certificate': issued_for(ca, tmp_path),
                                                     'ca_certificate': other_ca})
    assert code == 1 and 'not signed by ca_certificate' in result['msg']
    assert not (tmp_path / 'host.pem').exists()
