# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The parents' state as it was before the collection first changed it, so that teardown leaves them as they were.

A SecY may need its parent NIC changed: a larger MTU (room for the MACsec overhead), IPv6 off (no cleartext
neighbour discovery beside the link), the NIC up. Before the first such change of a setting, its value is recorded
here; a later change of the same setting keeps the first record (the state before the collection). Teardown puts
each recorded setting back and forgets the record.

The file (default /var/lib/l2sec-macsec/parents.json, 0600 in a 0700 directory) is
{"version": 1, "parents": {"eth1": {"mtu": 1500, "ipv6": true, "up": false}}}: only the settings that were changed.
Standard library and _files only.
"""

from __future__ import annotations

import json
import os

from ansible_collections.l2sec.macsec.plugins.module_utils import _files

PARENTS_FILE = '/var/lib/l2sec-macsec/parents.json'
VERSION = 1
SETTINGS = ('mtu', 'ipv6', 'up')


class ParentsError(ValueError):
    pass


def load(path=PARENTS_FILE):
    """{parent name: {setting: value before the collection}}; {} when there is no record."""
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.loads(handle.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ParentsError('cannot read the record of the parents\' first state %s: %s' % (path, exc)) from None
    parents = data.get('parents') if isinstance(data, dict) and data.get('version') == VERSION else None
    if not isinstance(parents, dict) or not all(isinstance(settings, dict) and set(settings) <= set(SETTINGS)
                                                for settings in parents.values()):
        raise ParentsError('%s is not a version %d record of the parents\' first state' % (path, VERSION))
    return parents


def save(parents, path=PARENTS_FILE):
    if not parents:
        if os.path.exists(path):
            os.unlink(path)
        return
    _files.ensure_directory(os.path.dirname(path), 0o700)
    text = json.dumps({'version': VERSION, 'parents': parents}, indent=1, sort_keys=True) + '\n'
    _files.write_atomic(path, text.encode('utf-8'), 0o600, sync_directory=True)


def remember(name, setting, value, path=PARENTS_FILE):
    """Record `setting` of parent `name` as `value` (what it is before a change), unless already recorded."""
    if setting not in SETTINGS:
        raise ValueError('unknown parent setting %r' % setting)
    parents = load(path)
    if setting in parents.get(name, {}):
        return False
    parents.setdefault(name, {})[setting] = value
    save(parents, path)
    return True


def forget(name, path=PARENTS_FILE):
    parents = load(path)
    if parents.pop(name, None) is None:
        return False
    save(parents, path)
    return True
