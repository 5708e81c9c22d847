#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# The work is done on the controller by the action plugin plugins/action/macsec_cert_sign.py; this file documents it.

DOCUMENTATION = r"""
module: macsec_cert_sign
short_description: Sign a host's CSR with the fleet CA on the controller, or keep its certificate
version_added: 0.1.0
description:
  - Runs on the controller only and never contacts a host; the host's private key never reaches it, the CA key
    never leaves it.
  - Keeps the host's current certificate (O(certificate)) when it is signed by the current CA, carries the CSR's
    key, the requested subject and names and the usages clientAuth and serverAuth, is not on the CRL, and is
    valid for longer than O(renew_before_days). Otherwise issues a new one.
  - A new certificate takes the key from the CSR (whose signature must verify) and the subject and names from
    the task, never from the CSR, so that a host cannot ask for names it was not given. It has the extended key
    usages clientAuth and serverAuth (EAP-TLS peers and servers, IKEv2) and the given DNS names and IP
    addresses as subject alternative names (an IKEv2 identity must match one).
  - The CA's index records the new certificate; the host's previous one is superseded and goes on the CRL the
    next time M(l2sec.macsec.macsec_ca) runs.
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
  check_mode:
    support: full
    details: Decides and reports what it would issue; writes nothing.
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller whatever C(delegate_to) says.
  diff_mode:
    support: full
    details: Subject, names, serial, not-after and public-key fingerprint before and after; never key material.
  platform:
    platforms: all
options:
  dir:
    description: The controller directory of the CA, as given to M(l2sec.macsec.macsec_ca).
    type: path
    default: ~/.local/share/l2sec-macsec/pki
  csr:
    description: The host's CSR, PEM, as M(l2sec.macsec.macsec_cert_request) returns it.
    type: str
    required: true
  certificate:
    description: The host's installed certificate, PEM, or null.
    type: str
  host:
    description: The host the certificate is for, as recorded in the CA's index. Defaults to C(inventory_hostname).
    type: str
  common_name:
    description: The subject common name. Defaults to O(host).
    type: str
  dns_names:
    description: The DNS names of the subject alternative names.
    type: list
    elements: str
    default: []
  ip_addresses:
    description: The IP addresses of the subject alternative names, without prefix length.
    type: list
    elements: str
    default: []
  days:
    description: The validity of a new certificate in days. Longer than O(renew_before_days).
    type: int
    default: 365
  renew_before_days:
    description: Issue a new certificate when the current one expires within this many days.
    type: int
    default: 30
seealso:
  - module: l2sec.macsec.macsec_cert_request
  - module: l2sec.macsec.macsec_cert_install
  - module: l2sec.macsec.macsec_ca
"""

EXAMPLES = r"""
- name: Sign the CSR, or keep the certificate that fits
  l2sec.macsec.macsec_cert_sign:
    dir: "{{ pki_dir }}"
    csr: "{{ pki_request.csr }}"
    certificate: "{{ pki_request.certificate }}"
    dns_names: ["{{ inventory_hostname }}"]
  register: pki_signed
"""

RETURN = r"""
certificate:
  description: The certificate the host should have, PEM (the kept or the new one); null in check mode when a new
    one would be issued.
  returned: success
  type: str
summary:
  description: Its C(subject), C(issuer), C(dns_names), C(ip_addresses), C(serial), C(not_before), C(not_after),
    C(key_fingerprint) and C(extended_key_usage).
  returned: success
  type: dict
reasons:
  description: Why a new certificate was (or would be) issued; empty when the current one was kept.
  returned: success
  type: list
  elements: str
  sample: [the subject alternative names changed]
"""
