# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The options of the modules that install a link's keys of a generation and retire the one before."""

from __future__ import annotations


class ModuleDocFragment:
    """retire and generations_file (docs/rotation.md)."""

    DOCUMENTATION = r"""
options:
  retire:
    description:
      - The key lifecycle (docs/topology.md). Link name to the generation before the one whose keys this call
        installs. Once they are installed, each is recorded as retired in O(generations_file) (never lowered), so
        that no later run goes back to it, whatever the inventory says; preflight reads the record and the plan runs
        the link one generation above it at least.
      - The kernel and wpa_supplicant roles pass it for every link above generation 1.
    type: dict
    default: {}
  generations_file:
    description: The host's record of retired generations (as M(l2sec.macsec.macsec_teardown)'s).
    type: path
    default: /var/lib/l2sec-macsec/generations.json
"""
