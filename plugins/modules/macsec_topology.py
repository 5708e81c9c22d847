#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

# The work is done on the controller by the action plugin plugins/action/macsec_topology.py; this file documents it.

DOCUMENTATION = r"""
module: macsec_topology
short_description: Validate the MACsec topology on the controller, and plan each host's part
version_added: 0.1.0
description:
  - Runs on the controller only and never contacts a host. Run it once per play (C(run_once=true)).
  - With O(phase=validate), checks C(macsec_links) against the topology contract (docs/topology.md) and fails
    listing every error at once, one per line, each naming the link, the end and the field and saying how to fix
    it. Unknown options are refused, with the closest known option suggested.
  - With O(phase=plan), after preflight has read each host's MAC addresses, checks that every end's parent NIC
    exists and that the SCIs are unique, checks that this release of the collection ships each link's provider,
    and returns each host's part of the topology.
  - Messages never contain key material.
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
    details: Use C(run_once=true); the result is the same for every host.
  check_mode:
    support: full
    details: It changes nothing in either mode.
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
  phase:
    description:
      - V(validate) checks the topology statically, before any host is contacted.
      - V(plan) expands the topology per host, with the MAC addresses that preflight read.
    type: str
    choices: [validate, plan]
    default: validate
  links:
    description:
      - The links, as described on the topology page.
      - Defaults to the variable C(macsec_links); the task fails when it is not defined (a typo in its name must
        not look like an empty fleet).
    type: raw
  hosts:
    description:
      - The inventory's hosts, for O(phase=validate). An end whose host is not among them must give its C(mac).
      - Defaults to C(groups.all).
    type: list
    elements: str
  host_macs:
    description:
      - For O(phase=plan), the hosts managed in this run, each mapped to its interfaces, each interface mapped to
        its MAC address (or to the preflight report's entry for it, a mapping with a C(mac) key).
      - Defaults to the C(interfaces) of the C(preflight_report) fact of each host in C(ansible_play_hosts), as
        the l2sec.macsec.preflight role sets it.
    type: dict
  rotate:
    description:
      - Links to take to their next generation now (C(playbooks/rotate.yml)), without an inventory change; V(all)
        for every link whose keys derive from the master secret. With O(phase=plan) each named link runs one
        generation above the one it runs now; its ends then retire the generation before, so later runs stay on
        the new one.
      - Both phases refuse a name that is no link, and a link whose keys the inventory gives (an end's C(sak), the
        link's C(cak)).
    type: list
    elements: str
    default: []
  revoked_hosts:
    description:
      - For O(phase=validate), the hosts whose certificates are all revoked (the pki role's C(pki_revoked_hosts);
        C(playbooks/plan.yml) passes it).
      - Such a host is refused where a link needs its certificate - an end of a link with C(ipsec.auth=pubkey), an
        EAP-TLS supplicant (C(eap_role=supplicant)), a link's C(radius.server_host) - naming the field and the fix.
    type: list
    elements: str
    default: []
notes:
  - The result of O(phase=plan) carries the inventory's explicit keys when it gives any; it is then marked
    C(no_log). The result of O(phase=validate) never carries key values.
seealso:
  - plugin: l2sec.macsec.macsec_validate
    plugin_type: filter
  - plugin: l2sec.macsec.macsec_host_parts
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Validate the topology before contacting any host
  l2sec.macsec.macsec_topology:
    phase: validate
  run_once: true

- name: Plan each host's part from the preflight reports
  l2sec.macsec.macsec_topology:
    phase: plan
  run_once: true
  register: macsec_plan

- name: Give each host its part
  ansible.builtin.set_fact:
    macsec_part: "{{ macsec_plan.hosts[inventory_hostname] }}"
  no_log: true
"""

RETURN = r"""
links:
  description:
    - O(phase=validate) only. The links with every default of their provider filled in and C(macsec_ifname)
      derived; key material (C(sak), C(cak), C(ckn), C(salt)) replaced by C(VALUE_SPECIFIED_IN_NO_LOG_PARAMETER).
  returned: success and phase is validate
  type: list
  elements: dict
  sample:
    - name: rack1-ab
      provider: kernel
      generation: 1
      cipher: gcm-aes-128
      port: 1
      encrypt: true
      macsec_ifname: msrack1-ab
      ends:
        - {host: node-a, interface: eth1, address: 10.0.1.1/24}
        - {host: node-b, interface: eth1, address: 10.0.1.2/24}
hosts:
  description:
    - O(phase=plan) only. Per managed host, C(links), one entry per link that the host is an end of, with
      C(name), C(provider), C(options) (the normalized link options), C(end) (this end's C(host), C(index),
      C(interface), C(address), C(mac), C(port), C(sci) and explicit keys if any) and C(peers) (the other ends,
      alike).
  returned: success and phase is plan
  type: dict
  sample:
    node-a:
      links:
        - name: rack1-ab
          provider: kernel
          options: {cipher: gcm-aes-128, port: 1, encrypt: true, macsec_ifname: msrack1-ab}
          end: {host: node-a, index: 0, interface: eth1, mac: '52:54:00:0a:00:01', port: 1, sci: '5254000a00010001'}
          peers:
            - {host: node-b, index: 1, interface: eth1, mac: '52:54:00:0b:00:01', port: 1, sci: '5254000b00010001'}
generations:
  description:
    - O(phase=plan) only. The links whose generation the plan raised above the inventory's, with the generation
      they run - to one above the highest generation that one of their ends' hosts retired (preflight's
      C(retired_generations), written by teardown and by the ends that moved to a new generation), and one more for
      the links named in O(rotate). The key lifecycle never lets a link go back to a retired one.
  returned: when a link's generation was raised
  type: dict
  sample: {rack1-ab: 2}
errors:
  description: On failure, every error, one string each, its path (link, end, field) then what to do.
  returned: failure
  type: list
  elements: str
  sample:
    - "macsec_links[rack1-ab].ciphr: is not an option of a link; did you mean `cipher`?"
"""
