# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller side of the PKI: the actions macsec_ca and macsec_cert_sign, in temporary directories."""

from __future__ import annotations

import json
import os
import stat

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.l2sec.macsec.plugins.action import macsec_ca, macsec_cert_sign
from ansible_collections.l2sec.macsec.plugins.module_utils import _pki
from ansible_collections.l2sec.macsec.tests.unit.plugins.action.controller_action import run_controller_action


def run(module, args, check_mode=False, host='vm1'):
    return run_controller_action(module.ActionModule, args, {'inventory_hostname': host}, check_mode=check_mode)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def csr_for(key, names=('vm1',), ips=()):
    return _pki.make_csr(key, names[0], list(names), list(ips))


def sign(directory, key, certificate=None, check_mode=False, host='vm1', dns=('vm1',), ips=()):
    return run(macsec_cert_sign, {'dir': directory, 'csr': csr_for(key, dns, ips), 'certificate': certificate,
                                  'dns_names': list(dns), 'ip_addresses': list(ips)}, check_mode, host)


@pytest.fixture
def pki(tmp_path):
    directory = str(tmp_path / 'pki')
    first = run(macsec_ca, {'dir': directory})
    assert first['changed'] is True
    return directory


def test_ca_is_made_once_with_private_modes(pki):
    assert mode(pki) == 0o700
    assert {name: mode(os.path.join(pki, name)) for name in os.listdir(pki)} == {
        'ca.key': 0o600, 'ca.pem': 0o600, 'crl.pem': 0o600, 'index.json': 0o600, '.lock': 0o600}
    again = run(macsec_ca, {'dir': pki})
    assert again['changed'] is False and again['msg'] == 'CA and CRL up to date'
    assert again['crl_summary']['revoked_serials'] == []
    os.chmod(os.path.join(pki, 'ca.key'), 0o640)
    fixed = run(macsec_ca, {'dir': pki})
    assert fixed['changes'] == ['set ca.key to 0600'] and mode(os.path.join(pki, 'ca.key')) == 0o600


def test_check_mode_writes_nothing(tmp_path):
    directory = str(tmp_path / 'pki')
    result = run(macsec_ca, {'dir': directory}, check_mode=True)
    assert result['changed'] is True and result['ca_certificate'] is None
    assert not os.path.exists(directory)
    run(macsec_ca, {'dir': directory})
    before = sorted(os.listdir(directory))
    key = _pki.generate_key()
    planned = sign(directory, key, check_mode=True)
    assert planned['changed'] is True and planned['certificate'] is None
    assert planned['reasons'] == ['the host has no certificate']
    assert sorted(os.listdir(directory)) == before
    assert json.load(open(os.path.join(directory, 'index.json')))['certificates'] == []


def test_sign_issues_then_keeps_then_reissues_for_a_new_key(pki):
    key = _pki.generate_key()
    issued = sign(pki, key)
    assert issued['changed'] is True and issued['reasons'] == ['the host has no certificate']
    cert = _pki.load_certificate(issued['certificate'])
    assert cert.subject.rfc4514_string() == 'CN=vm1'
    kept = sign(pki, key, issued['certificate'])
    assert kept['changed'] is False and kept['certificate'] == issued['certificate'] and kept['diff'] == {}
    new_key = _pki.generate_key()
    renewed = sign(pki, new_key, issued['certificate'])
    assert renewed['changed'] is True and renewed['reasons'] == ['the host key changed']
    assert renewed['diff']['before'] != renewed['diff']['after']
    assert _pki.public_key_fingerprint(new_key.public_key()) in renewed['diff']['after']
    # The superseded certificate goes on the CRL with the next macsec_ca run, and is refused from then on.
    crl = run(macsec_ca, {'dir': pki})
    assert crl['changed'] is True
    assert crl['crl_summary']['revoked_serials'] == ['%x' % cert.serial_number]
    stale = sign(pki, key, issued['certificate'])
    assert 'the certificate is on the CRL (revoked or superseded)' in stale['reasons']


def test_sign_reissues_when_names_change_and_takes_names_from_the_task(pki):
    key = _pki.generate_key()
    first = sign(pki, key, ips=['10.0.1.1'])
    changed = sign(pki, key, first['certificate'], ips=['10.0.1.1', '10.0.9.1'])
    assert changed['reasons'] == ['the subject alternative names changed']
    # The CSR asks for more names than the task gives: the certificate has the task's names only.
    csr = _pki.make_csr(key, 'vm1', ['vm1', 'bank.example'], [])
    result = run(macsec_cert_sign, {'dir': pki, 'csr': csr, 'dns_names': ['vm1']})
    assert _pki.names_of(_pki.load_certificate(result['certificate'])) == (['vm1'], [])


def test_sign_reissues_when_the_ca_changes(pki, tmp_path):
    key = _pki.generate_key()
    first = sign(pki, key)
    other = str(tmp_path / 'other')
    run(macsec_ca, {'dir': other})
    result = sign(other, key, first['certificate'])
    assert result['reasons'] == ['the CA changed: the certificate is not signed by the current CA']


def test_sign_renews_inside_the_window(pki):
    key = _pki.generate_key()
    short = run(macsec_cert_sign, {'dir': pki, 'csr': csr_for(key), 'dns_names': ['vm1'], 'days': 20,
                                   'renew_before_days': 10})
    assert short['changed'] is True
    renewed = sign(pki, key, short['certificate'])  # renew_before_days 30 > 20 days left
    assert renewed['changed'] is True and 'inside the renewal window of 30 days' in renewed['reasons'][0]


def test_revoking_a_host_puts_every_certificate_of_it_on_the_crl(pki):
    cert_a = _pki.load_certificate(sign(pki, _pki.generate_key(), host='vm1')['certificate'])
    cert_b = _pki.load_certificate(sign(pki, _pki.generate_key(), host='vm2', dns=('vm2',))['certificate'])
    result = run(macsec_ca, {'dir': pki, 'revoked_hosts': ['vm2']})
    assert result['changes'][0] == 'revoked serial %x' % cert_b.serial_number
    crl = _pki.load_crl(result['crl'])
    assert crl.get_revoked_certificate_by_serial_number(cert_b.serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(cert_a.serial_number) is None
    assert run(macsec_ca, {'dir': pki, 'revoked_hosts': ['vm2']})['changed'] is False
    # Off the list, vm2's old certificate stays revoked; it gets a new one.
    assert run(macsec_ca, {'dir': pki})['changed'] is False
    assert '%x' % cert_b.serial_number in _pki.crl_serials(_pki.load_crl(run(macsec_ca, {'dir': pki})['crl']))


def test_bad_input_fails_before_anything_is_written(pki):
    with pytest.raises(AnsibleActionFail, match='vm1: the CSR is not a PEM'):
        run(macsec_cert_sign, {'dir': pki, 'csr': 'nonsense'})
    with pytest.raises(AnsibleActionFail, match='not an IP address'):
        run(macsec_cert_sign, {'dir': pki, 'csr': csr_for(_pki.generate_key()), 'ip_addresses': ['10.0.0.1/24']})
    with pytest.raises(AnsibleActionFail, match='days \\(10\\) must be longer than renew_before_days'):
        run(macsec_cert_sign, {'dir': pki, 'csr': csr_for(_pki.generate_key()), 'days': 10})
    with pytest.raises(AnsibleActionFail, match='crl_days \\(30\\) must be longer'):
        run(macsec_ca, {'dir': pki, 'crl_days': 30})
    assert json.load(open(os.path.join(pki, 'index.json')))['certificates'] == []


def test_sign_without_a_ca_says_to_make_it_first_and_writes_nothing(tmp_path):
    directory = str(tmp_path / 'pki')
    with pytest.raises(AnsibleActionFail, match='vm1: no CA in .*/pki: run l2sec.macsec.macsec_ca .* first'):
        sign(directory, _pki.generate_key())
    assert not os.path.exists(directory)
