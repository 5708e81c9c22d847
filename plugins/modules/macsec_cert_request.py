#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_cert_request
short_description: Make or keep the host's private key, and return a CSR and what the host has installed
version_added: 0.1.0
description:
  - The host side of the fleet PKI, first half, in one module call.
  - Makes the host's private key in O(path) (C(host.key), mode 0600) unless a key of O(key_type) is there, and
    tightens the mode of an existing key to 0600. The key never leaves the host.
  - Returns a certificate signing request for the key with O(common_name), O(dns_names) and O(ip_addresses), the
    certificate installed in O(path) (C(host.pem), public), and the SHA-256 digests of the installed C(host.pem),
    C(ca.pem) and C(crl.pem), so that the controller can decide whether anything needs installing without another
    module call.
author:
  - l2sec.macsec maintainers (@l2sec)
attributes:
  check_mode:
    description: Reports whether it would make or replace the key; the CSR then comes from a key held in memory
      only, so that the controller can still plan.
    support: full
  diff_mode:
    description: Shows the key's type and public-key fingerprint before and after (never key material).
    support: full
requirements:
  - cryptography (Debian 12 python3-cryptography 38 or newer) on the host
options:
  path:
    description: The directory of the host's PKI files; made with mode 0755 when missing.
    type: path
    default: /etc/l2sec-macsec/pki
  key_type:
    description:
      - The type of the host key. A key of another type is replaced (the certificate is then issued anew).
    type: str
    choices: [ecdsa-p256, rsa-3072, ed25519]
    default: ecdsa-p256
  common_name:
    description: The subject common name of the CSR, usually the host's name.
    type: str
    required: true
  dns_names:
    description: DNS names for the subject alternative name extension.
    type: list
    elements: str
    default: []
  ip_addresses:
    description: IP addresses (without prefix length) for the subject alternative name extension.
    type: list
    elements: str
    default: []
  regenerate:
    description:
      - Replace the key even when it fits (a suspected compromise). The old certificate is then superseded and
        listed on the CRL by the controller. Not idempotent by design while true.
    type: bool
    default: false
notes:
  - The controller signs the CSR with M(l2sec.macsec.macsec_cert_sign) and installs the result with
    M(l2sec.macsec.macsec_cert_install); the role l2sec.macsec.pki does all three.
seealso:
  - module: l2sec.macsec.macsec_cert_sign
  - module: l2sec.macsec.macsec_cert_install
"""

EXAMPLES = r"""
- name: Make the host key and a CSR
  l2sec.macsec.macsec_cert_request:
    common_name: "{{ inventory_hostname }}"
    dns_names: ["{{ inventory_hostname }}"]
    ip_addresses: [10.0.1.1]
  register: pki_request
"""

RETURN = r"""
csr:
  description: The certificate signing request, PEM. Public.
  returned: success
  type: str
public_key_fingerprint:
  description: C(sha256:) and the SHA-256 of the key's SubjectPublicKeyInfo (DER), as
    C(openssl pkey -pubout -outform DER | sha256sum) prints it.
  returned: success
  type: str
  sample: sha256:3b1f...
key_type:
  description: The type of the host key.
  returned: success
  type: str
  sample: ecdsa-p256
key_action:
  description: C(kept), C(created), C(replaced) (another type, or O(regenerate)) or C(mode fixed).
  returned: success
  type: str
certificate:
  description: The installed certificate C(host.pem), PEM, or null.
  returned: success
  type: str
installed:
  description:
    - For C(certificate), C(ca_certificate) and C(crl), the SHA-256 (hex) of the installed file when it exists
      with mode 0644, else null (then it is installed again).
  returned: success
  type: dict
  sample: {certificate: 9f86d0..., ca_certificate: 60303a..., crl: null}
"""

import hashlib
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


def installed_digests(path):
    """SHA-256 of each public file that exists with mode 0644; null otherwise (so it gets installed)."""
    digests = {}
    for name, filename in _pki.HOST_FILES.items():
        full = os.path.join(path, filename)
        data = _pki.read_file(full)
        good = data is not None and _pki.file_mode(full) == _pki.PUBLIC_MODE
        digests[name] = hashlib.sha256(data).hexdigest() if good else None
    return digests


def current_key(key_path):
    """The host key, or None when there is none or it does not load (then a new one is made)."""
    data = _pki.read_file(key_path)
    if data is None:
        return None
    try:
        return _pki.load_private_key(data)
    except (ValueError, TypeError):
        return None


def installed_certificate(path):
    data = _pki.read_file(os.path.join(path, _pki.CERT_FILE))
    return data.decode('ascii', 'replace') if data else None


def key_summary(key):
    if key is None:
        return '(none)\n'
    fingerprint = _pki.public_key_fingerprint(key.public_key())
    return 'key_type: %s\npublic_key_fingerprint: %s\n' % (_pki.key_type_of(key), fingerprint)


def ensure_key(module, path):
    """(key, action): the fitting key kept, or a new one written (only outside check mode)."""
    key_path = os.path.join(path, _pki.KEY_FILE)
    key = current_key(key_path)
    wanted = module.params['key_type']
    if key is not None and _pki.key_type_of(key) == wanted and not module.params['regenerate']:
        if _pki.file_mode(key_path) == _pki.KEY_MODE:
            return key, key, 'kept'
        if not module.check_mode:
            os.chmod(key_path, _pki.KEY_MODE)
        return key, key, 'mode fixed'
    new = _pki.generate_key(wanted)
    if not module.check_mode:
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o755)
        _pki.write_file(key_path, _pki.private_key_pem(new), _pki.KEY_MODE)
    return key, new, 'created' if key is None else 'replaced'


def main():
    module = AnsibleModule(
        argument_spec={
            'path': {'type': 'path', 'default': '/etc/l2sec-macsec/pki'},
            'key_type': {'type': 'str', 'choices': list(_pki.KEY_TYPES), 'default': _pki.DEFAULT_KEY_TYPE},
            'common_name': {'type': 'str', 'required': True},
            'dns_names': {'type': 'list', 'elements': 'str', 'default': []},
            'ip_addresses': {'type': 'list', 'elements': 'str', 'default': []},
            'regenerate': {'type': 'bool', 'default': False},
        },
        supports_check_mode=True,
    )
    if CRYPTOGRAPHY_ERROR is not None:
        module.fail_json(msg=missing_required_lib('cryptography (Debian: python3-cryptography)'),
                         exception=CRYPTOGRAPHY_ERROR)
    path = module.params['path']
    try:
        before, key, action = ensure_key(module, path)
        csr = _pki.make_csr(key, module.params['common_name'], module.params['dns_names'],
                            module.params['ip_addresses'])
    except _pki.PkiError as error:
        module.fail_json(msg=str(error))
    changed = action != 'kept'
    result = {
        'changed': changed,
        'csr': csr,
        'public_key_fingerprint': _pki.public_key_fingerprint(key.public_key()),
        'key_type': _pki.key_type_of(key),
        'key_action': action,
        'certificate': installed_certificate(path),
        'installed': installed_digests(path),
    }
    if changed and module._diff:
        after = key_summary(key) + ('mode: 0600\n' if action == 'mode fixed' else '')
        result['diff'] = {'before_header': os.path.join(path, _pki.KEY_FILE), 'before': key_summary(before),
                          'after_header': os.path.join(path, _pki.KEY_FILE), 'after': after}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
