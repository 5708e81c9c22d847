# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host's record of the link generations it has retired (the key lifecycle of docs/topology.md).

A link never goes back to a generation it retired, whatever the inventory says: re-installing its keys would
restart their packet numbers. Teardown retires the generation a link had on this host, and the modules that install
a link's keys of a new generation (macsec_secy, macsec_secret_file) retire the one before (rotation included);
preflight reports the record; the plan makes each link's effective generation the highest of the inventory's
and one above every generation its ends retired.

The file (default /var/lib/l2sec-macsec/generations.json, 0600 in a 0700 directory, beside the PN registry) is
{"version": 1, "links": {"<link name>": <highest retired generation>}}. It holds no key. Teardown keeps it.
Standard library and _files only: it also runs in the host-side code.
"""

from __future__ import annotations

import json
import os

from ansible_collections.l2sec.macsec.plugins.module_utils import _files

GENERATIONS_FILE = '/var/lib/l2sec-macsec/generations.json'
VERSION = 1
DIR_MODE = 0o700
FILE_MODE = 0o600


class GenerationsError(ValueError):
    """The record exists but cannot be read: never taken for an empty one (that would allow going back)."""


def load(path=GENERATIONS_FILE):
    """{link name: highest retired generation}; {} when the file does not exist."""
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise GenerationsError('cannot read %s: %s' % (path, exc)) from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GenerationsError('%s is not JSON (%s): restore it from a backup; never delete it' % (path, exc)) from None
    links = data.get('links') if isinstance(data, dict) and data.get('version') == VERSION else None
    if not isinstance(links, dict) or not all(isinstance(value, int) and not isinstance(value, bool)
                                              for value in links.values()):
        raise GenerationsError('%s is not a version %d record of retired generations' % (path, VERSION))
    return dict(links)


def text_of(links):
    return json.dumps({'version': VERSION, 'links': dict(sorted(links.items()))}, indent=1, sort_keys=True) + '\n'


def retire(links, path=GENERATIONS_FILE, check_mode=False):
    """Record `links` ({name: generation}) as retired: each link keeps the highest generation retired so far.
    Returns the names whose record moved (would move, in check mode)."""
    record = load(path)
    moved = sorted(name for name, generation in links.items() if generation > record.get(name, 0))
    if moved and not check_mode:
        for name in moved:
            record[name] = links[name]
        directory = os.path.dirname(path)
        _files.ensure_directory(directory, DIR_MODE)
        _files.write_atomic(path, text_of(record).encode('utf-8'), FILE_MODE, sync_directory=True)
    return moved


def retire_request(retire):
    """A module's `retire` option ({link name: generation}) checked: names are text, generations whole numbers from
    1. Raises GenerationsError naming the option and the fix."""
    if not isinstance(retire, dict):
        raise GenerationsError('retire: must map link names to generations, not %r' % (retire,))
    checked = {}
    for name, generation in retire.items():
        if isinstance(generation, str) and generation.isdigit():
            generation = int(generation)  # a template's result, as text
        if not isinstance(name, str) or not name or isinstance(generation, bool) or not isinstance(generation, int) \
                or generation < 1:
            raise GenerationsError('retire: %r -> %r must be a link name and a generation of 1 or more (the one '
                                   'before the generation installed now)' % (name, generation))
        checked[name] = generation
    return checked


def effective_generation(inventory_generation, retired_generations):
    """The generation a link runs: the inventory's, or one above the highest any of its ends retired."""
    highest = max(retired_generations, default=0)
    return max(inventory_generation, highest + 1)
