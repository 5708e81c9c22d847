#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# The work is done on the controller by the action plugin plugins/action/macsec_ca.py; this file documents it.

DOCUMENTATION = r"""
module: macsec_ca
short_description: The fleet CA and its CRL, kept on the controller
version_added: 0.1.0
description:
  - Runs on the controller only and never contacts a host. Run it once per play (C(run_once=true)).
  - Makes the CA in O(dir) when it has none (C(ca.key) and the self-signed C(ca.pem)), the directory mode 0700
    and every file in it mode 0600 (looser modes are tightened).
  - Marks every certificate issued to a host of O(revoked_hosts), and every serial of O(revoked_serials),
    revoked for good in the CA's index (C(index.json)), and keeps C(crl.pem) listing the revoked certificates and
    those superseded by a newer certificate of the same host, until they expire.
  - Signs a new CRL when that list changed, when the CA changed, or when the CRL's next update is within
    O(renew_before_days); otherwise leaves it alone.
  - Serialized with a lock file, so that it may run beside M(l2sec.macsec.macsec_cert_sign) in other forks.
author:
  - l2sec.macsec maintainers (@l2sec)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
    details: Use C(run_once=true).
  check_mode:
    support: full
    details: Writes nothing, not even the lock file; reports what it would do.
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller whatever C(delegate_to) says.
  diff_mode:
    support: full
    details: The CA's subject and fingerprint and the CRL's number, dates and serials, before and after.
  platform:
    platforms: all
options:
  dir:
    description: The controller directory of the CA. Keep it out of Git, back it up.
    type: path
    default: ~/.local/share/l2sec-macsec/pki
  common_name:
    description: The CA's subject common name, used when the CA is made.
    type: str
    default: l2sec.macsec fleet CA
  key_type:
    description: The type of the CA key, used when the CA is made.
    type: str
    choices: [ecdsa-p256, rsa-3072, ed25519]
    default: ecdsa-p256
  days:
    description: The validity of the CA certificate in days, used when the CA is made.
    type: int
    default: 3650
  revoked_hosts:
    description:
      - Hosts whose certificates are revoked, all of them, for good. Taking a host off this list does not
        reinstate them; the host gets a new certificate instead.
    type: list
    elements: str
    default: []
  revoked_serials:
    description: Serial numbers (hex, colons allowed) revoked by hand.
    type: list
    elements: str
    default: []
  crl_days:
    description: The validity of a new CRL in days (its next update). Longer than O(renew_before_days).
    type: int
    default: 90
  renew_before_days:
    description: Sign a new CRL when its next update is this close.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Keep the CA and the CRL
  l2sec.macsec.macsec_ca:
    dir: "{{ pki_dir }}"
    revoked_hosts: [old-node-7]
  run_once: true
  register: pki_ca
"""

RETURN = r"""
ca_certificate:
  description: The CA certificate, PEM; null in check mode before the CA exists.
  returned: success
  type: str
ca_fingerprint:
  description: C(sha256:) and the SHA-256 of the CA certificate (DER).
  returned: success
  type: str
crl:
  description: The CRL, PEM; null in check mode before the CA exists.
  returned: success
  type: str
crl_summary:
  description: The CRL's C(issuer), C(number), C(last_update), C(next_update) and C(revoked_serials).
  returned: success
  type: dict
changes:
  description: What was done (or would be, in check mode), one line each.
  returned: always
  type: list
  elements: str
dir:
  description: The CA directory, absolute.
  returned: success
  type: str
"""
