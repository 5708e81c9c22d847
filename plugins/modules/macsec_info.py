#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_info
short_description: The state of the host's kernel MACsec SecYs, without key material
version_added: 0.1.0
description:
  - Reads every MACsec interface of the host (or the one named) over netlink in one call, with its link options,
    TX SAs and RX SCs with their SAs (AN, active, next PN, key id, SSCI), statistics, MTU and addresses.
  - Adds, for every TX SA, what the host's PN registry holds for its key, that is the reserved PN high-water mark and
    the PNs left before the PN space runs out.
  - The kernel never returns keys; nothing here holds one.
author:
  - l2sec.macsec maintainers (@l2sec)
requirements:
  - pyroute2 0.7 or later on the host
attributes:
  check_mode:
    description: Reads only; runs the same in check mode.
    support: full
  diff_mode:
    description: Changes nothing, so there is nothing to show.
    support: none
options:
  name:
    description: Only this macsec interface. Default all of them.
    type: str
  pn_registry:
    description: The PN registry to read the high-water marks from (read only, never locked or written).
    type: path
    default: /var/lib/l2sec-macsec/pn-registry.json
seealso:
  - module: l2sec.macsec.macsec_secy
"""

EXAMPLES = r"""
- name: Read the SecYs
  l2sec.macsec.macsec_info:
  register: macsec

- name: Every TX SA is active and encrypting
  ansible.builtin.assert:
    that:
      - macsec.secys | selectattr('link.encrypt') | list | length == macsec.secys | length
"""

RETURN = r"""
secys:
  description: One entry per SecY.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The macsec interface.
      type: str
    parent:
      description: Its parent NIC.
      type: str
    link:
      description: SCI, cipher, icv_len, encoding_sa, encrypt, validate, replay_protect, window, offload, ...
      type: dict
    tx_sas:
      description: AN, active, pn (the next PN to send), keyid, stats; C(pn_reserved) and C(pn_headroom) from the registry.
      type: list
      elements: dict
    rx_scs:
      description: SCI, active, stats and SAs (pn is the lowest PN still accepted).
      type: list
      elements: dict
    stats:
      description: SecY and TX SC counters.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy


def main():
    module = AnsibleModule(argument_spec={
        'name': {'type': 'str'},
        'pn_registry': {'type': 'path', 'default': _pn_registry.DEFAULT_PATH},
    }, supports_check_mode=True)
    if not nl.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib('pyroute2 (Debian: python3-pyroute2)'),
                         exception=nl.PYROUTE2_IMPORT_ERROR)
    try:
        registry = _pn_registry.PnRegistry.load(module.params['pn_registry'])
    except _pn_registry.RegistryError as exc:
        module.warn(str(exc))
        registry = None
    try:
        with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
            secys = _secy.read_all(ipr, genl, module.params['name'])
    except (_secy.SecyError, nl.MacsecError) as exc:
        module.fail_json(msg=str(exc))
    except nl.NetlinkError as exc:
        module.fail_json(msg='netlink refused to list the macsec interfaces: %s' % (exc,))
    for secy in secys:
        _secy.add_registry_marks(secy, registry)
    module.exit_json(changed=False, secys=secys)


if __name__ == '__main__':
    main()
