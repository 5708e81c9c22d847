# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests that run real `ansible-playbook` processes share: which binary, and where the collection is."""

from __future__ import annotations

import os
import pathlib
import shutil
import sys

import pytest

TREE = pathlib.Path(__file__).resolve().parents[2]


def ansible_playbook():
    """The ansible-playbook of the Python running the tests (tools/test.sh does not put its venv on PATH)."""
    beside = pathlib.Path(sys.executable).parent / 'ansible-playbook'
    return str(beside) if beside.exists() else shutil.which('ansible-playbook')


def collections_path():
    """A folder holding ansible_collections/l2sec/macsec: $ANSIBLE_COLLECTIONS_PATH, else the tree under test."""
    for folder in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep):
        if folder and (pathlib.Path(folder) / 'ansible_collections' / 'l2sec' / 'macsec').is_dir():
            return pathlib.Path(folder)
    if TREE.parent.name == 'l2sec' and TREE.parents[1].name == 'ansible_collections':
        return TREE.parents[2]
    pytest.fail('set ANSIBLE_COLLECTIONS_PATH to a folder containing ansible_collections/l2sec/macsec '
                '(tools/test.sh units does)')
    return None
