#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# The work is done on the controller by the action plugin plugins/action/macsec_keys.py; this file documents it.

DOCUMENTATION = r"""
module: macsec_keys
short_description: The key material of a host's MACsec links, derived on the controller
version_added: 0.1.0
description:
  - Runs on the controller only and never contacts a host.
  - Derives the keys of one link (O(link)) or of several (O(links)) for one host from the master secret with
    HKDF-SHA256, exactly as docs/keys.md describes, or takes the link's explicit keys where the inventory gives
    them (C(cak), C(ckn), C(salt), C(ends[].sak), C(ends[].key_id), C(ends[].ssci)), one by one.
  - For a C(kernel) link, the host's own transmit SAK (RV(material.tx)) and the SAK of every peer (RV(material.rx)),
    each with its kernel key id, and for the XPN ciphers the link's salt and each end's SSCI.
  - For a C(wpa_supplicant) link with C(mode=psk), the CAK and CKN. For a link with C(ipsec.auth=psk), the IKE
    pre-shared key.
  - For a C(wpa_supplicant) link with C(mode=eap), the RADIUS shared secret (RV(material.radius_secret)), to the
    ends with C(eap_role=authenticator) and to the link's C(radius.server_host). The RADIUS server host is
    usually no end of the link; for it the result holds the RADIUS shared secret and nothing else. Any other host
    that is not an end of a link is refused.
  - The result is always marked C(no_log), so Ansible censors it in every output (stdout at any verbosity, the log
    file, C(--diff)) whatever the task says, and a registered result never reaches the fact cache. Use the
    registered keys only in tasks with C(no_log=true), and never pass them to C(set_fact) or C(debug).
  - Error messages name the field and the rule, never a key.
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
    details: It changes nothing in either mode and returns the same keys.
  connection:
    support: none
  delegation:
    support: none
    details: It runs on the controller whatever C(delegate_to) says.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  link:
    description:
      - One link, either an entry of the host's plan part (as C(l2sec.macsec.macsec_topology) with C(phase=plan)
        returns it, with C(name), C(provider), C(options), C(end), C(peers)) or an entry of C(macsec_links).
      - Give O(link) or O(links).
    type: dict
  links:
    description: Several links, each like O(link); the result then maps each link name to its keys.
    type: list
    elements: dict
  host:
    description:
      - The host whose end the keys are for, or the C(radius.server_host) of a C(mode=eap) link. Defaults to
        C(inventory_hostname).
    type: str
  master_secret:
    description:
      - The master secret. Defaults to the variable C(macsec_master_secret) (vault it).
      - A string of hex digits only is read as hex and needs an even count of at least 64 digits (32 bytes);
        any other string is used as UTF-8 and needs at least 44 characters. Leading or trailing whitespace is
        refused.
      - Not needed when every key of the given links is explicit.
    type: str
notes:
  - Rotation is O(link) C(generation) + 1 in the inventory; the keys of a generation never change.
seealso:
  - module: l2sec.macsec.macsec_topology
"""

EXAMPLES = r"""
# The result is censored by the action itself; no_log here would only hide the (secret-free) error messages.
- name: Derive the keys of this host's links (never printed)
  l2sec.macsec.macsec_keys:
    links: "{{ macsec_part.links }}"
  register: kernel_keys

- name: Use them only in no_log tasks
  ansible.builtin.template:
    src: link.conf.j2
    dest: /etc/l2sec-macsec/{{ item.name }}.conf
    mode: "0600"
  loop: "{{ macsec_part.links }}"
  vars:
    link_keys: "{{ kernel_keys.material[item.name] }}"
  no_log: true
"""

RETURN = r"""
material:
  description:
    - The key material of O(link); with O(links), a mapping of each link's name to it. All hex is lowercase.
  returned: success
  type: dict
  contains:
    link:
      description: The link's name.
      type: str
    provider:
      description: The link's provider.
      type: str
    generation:
      description: The key generation the keys belong to.
      type: int
    cipher:
      description: The link's cipher suite.
      type: str
    tx:
      description:
        - C(kernel) links. The end of this host and the key it transmits with, C(host), C(interface), C(port),
          C(sci) (null for a C(macsec_links) entry), C(sak), C(key_id) (32 hex digits, as the kernel reports
          it), C(ssci) (XPN only) and C(source) (C(derived) or C(explicit)).
      type: dict
    rx:
      description: C(kernel) links. Every peer end, like RV(material.tx), with the key that peer transmits with.
      type: list
      elements: dict
    salt:
      description: C(kernel) links with an XPN cipher. The link's 12-byte salt, 24 hex digits.
      type: str
    cak:
      description: C(wpa_supplicant) links with C(mode=psk). The CAK, 32 hex digits (64 for a 256-bit cipher).
      type: str
    ckn:
      description: C(wpa_supplicant) links with C(mode=psk). The CKN, 32 hex digits (16 bytes) when derived.
      type: str
    ipsec_psk:
      description: Links with C(ipsec.auth=psk). The IKE pre-shared key, 64 hex digits (32 bytes).
      type: str
    radius_secret:
      description:
        - C(wpa_supplicant) links with C(mode=eap), for an authenticator end and for the link's
          C(radius.server_host). The RADIUS shared secret between the link's authenticators (hostapd) and its
          RADIUS server, 32 hex digits (16 bytes), derived with the purpose C(radius-secret).
        - Like every key here, censored by the result's C(no_log) mark; write it only to files of mode 0640 or
          stricter, in tasks with C(no_log=true).
      type: str
fingerprints:
  description: The same shape with C(sha256:...) fingerprints in place of keys and the key ids; safe to show.
  returned: success
  type: dict
"""
