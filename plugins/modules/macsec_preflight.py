#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_preflight
short_description: Report what a host can do for MACsec, without changing it
version_added: 0.1.0
description:
  - Reads in one call the kernel release, whether the C(macsec) kernel module is loaded, built in or
    available, the versions of pyroute2 and cryptography, the versions of wpa_supplicant, hostapd,
    strongSwan and FreeRADIUS and whether the first two were built with the C(macsec_linux) driver,
    the host's network interfaces, and the MACsec hardware offload feature of the given parent NICs.
  - Reads who else manages each present parent NIC (NetworkManager with one C(nmcli -t -f DEVICE,STATE device status),
    systemd-networkd with one C(networkctl list --no-legend --no-pager), a bond, a bridge or another master from
    C(/sys/class/net)) and lists in RV(coexistence_refusals) the parents the collection will not share with them.
  - Reads the host's record of retired link generations, and fails when the record exists but cannot be read.
  - Changes nothing on the host.
author:
  - l2sec.macsec maintainers (@l2sec)
attributes:
  check_mode:
    description: Can run in check mode and return the same facts.
    support: full
  diff_mode:
    description: Would show what changed.
    support: none
    details: The module never changes anything, so there is nothing to show.
options:
  parents:
    description:
      - Parent NICs that the host's links use. Missing ones are listed in RV(preflight.missing_parents),
        and their offload feature is read with C(ethtool -k).
    type: list
    elements: str
    default: []
  networkmanager_unmanage:
    description:
      - Whether NetworkManager is to be told to leave the parents alone (the C(l2sec.macsec.preflight) role does
        it when its C(preflight_networkmanager_unmanage) is true).
      - When true, a parent that NetworkManager manages is not listed in RV(coexistence_refusals). The module
        itself changes nothing either way.
    type: bool
    default: false
  generations_file:
    description:
      - The host's record of retired link generations, reported as RV(preflight.retired_generations).
      - It is readable by root only, so run the module with C(become) once the record exists.
    type: path
    default: /var/lib/l2sec-macsec/generations.json
notes:
  - Library versions are read from package metadata, without importing the libraries (importing pyroute2 alone costs seconds on a slow host).
"""

EXAMPLES = r"""
- name: Learn what the host can do
  l2sec.macsec.macsec_preflight:
    parents: [eth1, eth2]
  register: preflight

- name: Refuse a host without the macsec kernel module
  ansible.builtin.assert:
    that: preflight.preflight.macsec_module != 'missing'
    fail_msg: the kernel of {{ inventory_hostname }} has no macsec module

- name: Refuse a host whose parents another manager owns
  ansible.builtin.assert:
    that: preflight.coexistence_refusals | length == 0
    fail_msg: "{{ inventory_hostname }}: {{ preflight.coexistence_refusals | join('; ') }}"
"""

RETURN = r"""
preflight:
  description: What the host can do for MACsec. Contains no secrets.
  returned: always
  type: dict
  contains:
    kernel:
      description: The running kernel release.
      type: str
      sample: 6.1.0-40-cloud-amd64
    macsec_module:
      description: C(loaded), C(builtin), C(available) (can be loaded with modprobe) or C(missing).
      type: str
      sample: available
    pyroute2:
      description: The importable pyroute2 version, or null.
      type: str
      sample: 0.7.2
    cryptography:
      description: The importable cryptography version, or null.
      type: str
      sample: 38.0.4
    daemons:
      description:
        - Per daemon (C(wpa_supplicant), C(hostapd), C(hostapd_macsec) (a hostapd rebuilt with MACsec as
          C(hostapd-macsec), see the C(l2sec.macsec.hostapd) role), C(strongswan), C(freeradius)) its path and version,
          or null when it is not installed. For wpa_supplicant and hostapd also whether the binary has the
          C(macsec_linux) driver and the 2.11 options C(macsec_csindex) and C(macsec_offload); for strongSwan
          whether its C(openssl) plugin is installed (C(openssl_plugin); Debian ships it apart, in
          C(libstrongswan-standard-plugins), and swanctl cannot read ECDSA keys without it).
      type: dict
      sample: {wpa_supplicant: {path: /usr/sbin/wpa_supplicant, version: '2.10', macsec_linux: true}}
    interfaces:
      description: Every network interface with C(mac), C(mtu), C(operstate), C(master) and C(kind).
      type: dict
      sample: {eth1: {mac: '52:54:00:12:34:56', mtu: 1500, operstate: up, master: null, kind: null}}
    missing_parents:
      description: The requested parents that the host does not have.
      type: list
      elements: str
      sample: []
    offload:
      description: The C(macsec-hw-offload) feature of each present parent as C(ethtool -k) shows it, or null.
      type: dict
      sample: {eth1: 'off [fixed]'}
    network_managers:
      description:
        - Whether NetworkManager and systemd-networkd are running (their command answered), or null for both
          when no parent is present (they are asked only about parents).
      type: dict
      sample: {networkmanager: true, networkd: false}
      contains:
        networkmanager:
          description: Whether C(nmcli) is installed and NetworkManager answered.
          type: bool
        networkd:
          description: Whether C(networkctl) is installed and systemd-networkd is running.
          type: bool
    parent_owners:
      description: Per present parent, who else manages it.
      type: dict
      sample: {eth1: {networkmanager: false, networkd: false, bond: bond0, bridge: null, other_master: null}}
      contains:
        networkmanager:
          description: NetworkManager manages the parent (its state is anything but C(unmanaged)).
          type: bool
        networkd:
          description: systemd-networkd manages the parent (its setup state is anything but C(unmanaged)).
          type: bool
        bond:
          description: The bond the parent is a slave of, or null.
          type: str
        bridge:
          description: The bridge the parent is a port of, or null.
          type: str
        other_master:
          description: Any other master of the parent (team, VRF, Open vSwitch), or null.
          type: str
    retired_generations:
      description:
        - The host's record of retired link generations, link name to the highest generation retired; empty
          when the host has no record.
      type: dict
      sample: {lab-link: 2}
    strict_parent_filter:
      description: Whether the unit of the strict parent filter of an earlier run (role l2sec.macsec.guard) is installed.
      type: bool
      sample: false
coexistence_refusals:
  description:
    - One message per parent and manager that the collection will not share the parent with, naming the parent,
      the manager and the fix. Empty when every parent is free.
    - A parent that NetworkManager manages is not listed when O(networkmanager_unmanage) is true.
  returned: always
  type: list
  elements: str
  sample: ['eth1 is a port of bridge br0: a bridge port cannot be a MACsec parent; remove eth1 from br0 or put the SecY on the bridge (interface: br0)']
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.l2sec.macsec.plugins.module_utils._generations import GENERATIONS_FILE, GenerationsError
from ansible_collections.l2sec.macsec.plugins.module_utils._preflight import coexistence_refusals, host_facts


def main():
    module = AnsibleModule(
        argument_spec={
            'parents': {'type': 'list', 'elements': 'str', 'default': []},
            'networkmanager_unmanage': {'type': 'bool', 'default': False},
            'generations_file': {'type': 'path', 'default': GENERATIONS_FILE},
        },
        supports_check_mode=True,
    )

    def run_command(argv):
        # The C locale: nmcli and networkctl states and messages are parsed.
        return module.run_command(argv, environ_update={'LC_ALL': 'C'})

    def find_binary(name):
        return module.get_bin_path(name, opt_dirs=['/usr/local/sbin', '/usr/sbin', '/sbin'])

    try:
        facts = host_facts(run_command, find_binary, module.params['parents'], module.params['generations_file'])
    except GenerationsError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, preflight=facts,
                     coexistence_refusals=coexistence_refusals(facts['parent_owners'],
                                                               module.params['networkmanager_unmanage']))


if __name__ == '__main__':
    main()
