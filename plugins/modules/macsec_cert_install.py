#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_cert_install
short_description: Install the host's certificate, the CA certificate and the CRL in one call
version_added: 0.1.0
description:
  - The host side of the fleet PKI, second half, in one module call.
  - Writes C(host.pem), C(ca.pem) and C(crl.pem) in O(path), each mode 0644, when their content or mode differs.
  - Refuses, before writing anything, a certificate that is not for the host's key C(host.key), not signed by
    O(ca_certificate), or a CRL not signed by it.
author:
  - l2sec.macsec maintainers (@l2sec)
attributes:
  check_mode:
    description: Reports what it would write.
    support: full
  diff_mode:
    description:
      - Shows, per file, the subject, names, serial, dates and public-key fingerprint of the certificates and the
        number, dates and revoked serials of the CRL, before and after. Never key material.
    support: full
requirements:
  - cryptography (Debian 12 python3-cryptography 38 or newer) on the host
options:
  path:
    description: The directory of the host's PKI files, where M(l2sec.macsec.macsec_cert_request) made the key.
    type: path
    default: /etc/l2sec-macsec/pki
  certificate:
    description: The host's certificate, PEM, as M(l2sec.macsec.macsec_cert_sign) returns it.
    type: str
    required: true
  ca_certificate:
    description: The CA certificate, PEM, as M(l2sec.macsec.macsec_ca) returns it.
    type: str
    required: true
  crl:
    description: The CRL, PEM, as M(l2sec.macsec.macsec_ca) returns it. Not written when omitted.
    type: str
seealso:
  - module: l2sec.macsec.macsec_cert_request
  - module: l2sec.macsec.macsec_cert_sign
  - module: l2sec.macsec.macsec_ca
"""

EXAMPLES = r"""
- name: Install the certificate, the CA certificate and the CRL
  l2sec.macsec.macsec_cert_install:
    certificate: "{{ pki_signed.certificate }}"
    ca_certificate: "{{ pki_ca.ca_certificate }}"
    crl: "{{ pki_ca.crl }}"
"""

RETURN = r"""
written:
  description: The files written (or that check mode would write).
  returned: success
  type: list
  elements: str
  sample: [/etc/l2sec-macsec/pki/host.pem]
certificate:
  description: The installed certificate's subject, names, serial, dates and public-key fingerprint.
  returned: success
  type: dict
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.l2sec.macsec.plugins.module_utils import _pki

try:
    import cryptography  # noqa: F401 pylint: disable=unused-import
except ImportError:
    CRYPTOGRAPHY_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_ERROR = None


def parse(module, path):
    """The certificate, CA and CRL objects; fails before anything is written when they do not belong together."""
    cert = _pki.load_certificate(module.params['certificate'])
    ca_cert = _pki.load_certificate(module.params['ca_certificate'])
    crl = _pki.load_crl(module.params['crl']) if module.params['crl'] else None
    if cert is None or ca_cert is None:
        module.fail_json(msg='certificate and ca_certificate must be PEM certificates')
    if module.params['crl'] and crl is None:
        module.fail_json(msg='crl must be a PEM certificate revocation list')
    key_data = _pki.read_file(os.path.join(path, _pki.KEY_FILE))
    if key_data is None:
        module.fail_json(msg='%s has no %s: run l2sec.macsec.macsec_cert_request first' % (path, _pki.KEY_FILE))
    key = _pki.load_private_key(key_data)
    if _pki.public_key_fingerprint(key.public_key()) != _pki.public_key_fingerprint(cert.public_key()):
        module.fail_json(msg='the certificate is for another key than %s: sign this host\'s CSR'
                             % os.path.join(path, _pki.KEY_FILE))
    if not _pki.issued_by(cert, ca_cert):
        module.fail_json(msg='the certificate is not signed by ca_certificate')
    if crl is not None and not _pki.crl_is_signed_by(crl, ca_cert):
        module.fail_json(msg='the CRL is not signed by ca_certificate')
    return cert, ca_cert, crl


def ca_summary(cert):
    if cert is None:
        return None
    return {'subject': cert.subject.rfc4514_string(), 'fingerprint': _pki.certificate_fingerprint(cert),
            'not_after': _pki.iso(_pki.not_after(cert))}


SUMMARIES = {
    'certificate': lambda data: _pki.certificate_summary(_pki.load_certificate(data)),
    'ca_certificate': lambda data: ca_summary(_pki.load_certificate(data)),
    'crl': lambda data: _pki.crl_summary(_pki.load_crl(data)),
}


def main():
    module = AnsibleModule(
        argument_spec={
            'path': {'type': 'path', 'default': '/etc/l2sec-macsec/pki'},
            'certificate': {'type': 'str', 'required': True},
            'ca_certificate': {'type': 'str', 'required': True},
            'crl': {'type': 'str'},
        },
        supports_check_mode=True,
    )
    if CRYPTOGRAPHY_ERROR is not None:
        module.fail_json(msg=missing_required_lib('cryptography (Debian: python3-cryptography)'),
                         exception=CRYPTOGRAPHY_ERROR)
    path = module.params['path']
    cert, dummy_ca, dummy_crl = parse(module, path)
    written, before, after = [], [], []
    for name, filename in _pki.HOST_FILES.items():
        if module.params[name] is None:
            continue
        full = os.path.join(path, filename)
        wanted = module.params[name].encode('ascii')
        old = _pki.read_file(full)
        if old == wanted and _pki.file_mode(full) == _pki.PUBLIC_MODE:
            continue
        written.append(full)
        before.append('# %s\n%s' % (full, _pki.summary_text(SUMMARIES[name](old) if old else None)))
        after.append('# %s (mode 0644)\n%s' % (full, _pki.summary_text(SUMMARIES[name](wanted))))
        if not module.check_mode:
            _pki.write_file(full, wanted, _pki.PUBLIC_MODE)
    result = {'changed': bool(written), 'written': written, 'certificate': _pki.certificate_summary(cert)}
    if written and module._diff:
        result['diff'] = {'before_header': path, 'before': ''.join(before),
                          'after_header': path, 'after': ''.join(after)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
