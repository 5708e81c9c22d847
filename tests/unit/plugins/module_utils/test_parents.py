# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The record of the parents' first state (plugins/module_utils/_parents.py): remember() keeps the value a setting
had before the collection FIRST changed it, forget() drops a parent, the file goes when the record is empty, and a
broken file is an error."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _parents


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'lib' / 'parents.json')


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))


def on_disk(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def test_no_record_is_empty(path):
    assert _parents.load(path) == {}


def test_remember_writes_a_private_versioned_record(path):
    assert _parents.remember('eth1', 'mtu', 1500, path) is True
    assert on_disk(path) == {'version': 1, 'parents': {'eth1': {'mtu': 1500}}}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700


def test_remember_keeps_the_first_value(path):
    _parents.remember('eth1', 'mtu', 1500, path)
    assert _parents.remember('eth1', 'mtu', 1532, path) is False
    assert _parents.load(path) == {'eth1': {'mtu': 1500}}


def test_a_false_first_value_is_kept_too(path):
    # Kept by the key, not by its truth: a parent that was down or had IPv6 off stays so in the record.
    _parents.remember('eth1', 'up', False, path)
    _parents.remember('eth1', 'ipv6', False, path)
    assert _parents.remember('eth1', 'up', True, path) is False
    assert _parents.remember('eth1', 'ipv6', True, path) is False
    assert _parents.load(path) == {'eth1': {'up': False, 'ipv6': False}}


def test_settings_and_parents_are_recorded_apart(path):
    _parents.remember('eth1', 'mtu', 1500, path)
    _parents.remember('eth1', 'ipv6', True, path)
    _parents.remember('eth2', 'up', False, path)
    _parents.remember('eth1', 'up', True, path)
    assert _parents.load(path) == {'eth1': {'mtu': 1500, 'ipv6': True, 'up': True}, 'eth2': {'up': False}}


def test_an_unknown_setting_is_refused_and_nothing_is_written(path):
    with pytest.raises(ValueError, match="unknown parent setting 'speed'"):
        _parents.remember('eth1', 'speed', 1000, path)
    assert not os.path.exists(path)


def test_forget_drops_one_parent_and_keeps_the_others(path):
    _parents.remember('eth1', 'mtu', 1500, path)
    _parents.remember('eth2', 'mtu', 9000, path)
    assert _parents.forget('eth1', path) is True
    assert _parents.load(path) == {'eth2': {'mtu': 9000}}


def test_forget_of_the_last_parent_deletes_the_file(path):
    _parents.remember('eth1', 'mtu', 1500, path)
    assert _parents.forget('eth1', path) is True
    assert not os.path.exists(path)
    assert _parents.load(path) == {}


def test_forget_of_an_unknown_parent_changes_nothing(path):
    assert _parents.forget('eth1', path) is False
    assert not os.path.exists(path)
    _parents.remember('eth2', 'mtu', 1500, path)
    with open(path, encoding='utf-8') as handle:
        before = handle.read()
    assert _parents.forget('eth1', path) is False
    with open(path, encoding='utf-8') as handle:
        assert handle.read() == before


def test_after_forget_the_next_change_is_remembered_again(path):
    _parents.remember('eth1', 'mtu', 1500, path)
    _parents.forget('eth1', path)
    assert _parents.remember('eth1', 'mtu', 9000, path) is True
    assert _parents.load(path) == {'eth1': {'mtu': 9000}}


def test_save_of_nothing_deletes_the_file_or_does_nothing(path):
    _parents.save({}, path)
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    _parents.save({'eth1': {'mtu': 1500}}, path)
    assert os.path.exists(path)
    _parents.save({}, path)
    assert not os.path.exists(path)


BROKEN = [
    ('not json', '{"version": 1,', 'cannot read the record'),
    ('a list', '[]', 'is not a version 1 record'),
    ('other version', {'version': 2, 'parents': {}}, 'is not a version 1 record'),
    ('no parents', {'version': 1}, 'is not a version 1 record'),
    ('parents a list', {'version': 1, 'parents': ['eth1']}, 'is not a version 1 record'),
]


@pytest.mark.parametrize('data, message', [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_broken_file_is_an_error(path, data, message):
    write(path, data)
    with pytest.raises(_parents.ParentsError, match=message):
        _parents.load(path)
    # remember() and forget() never overwrite it.
    with pytest.raises(_parents.ParentsError):
        _parents.remember('eth1', 'mtu', 1500, path)
    with pytest.raises(_parents.ParentsError):
        _parents.forget('eth1', path)
    with open(path, encoding='utf-8') as handle:
        assert handle.read() == (data if isinstance(data, str) else json.dumps(data))


def test_an_unreadable_file_is_an_error(path):
    os.makedirs(path)
    with pytest.raises(_parents.ParentsError, match='cannot read the record'):
        _parents.load(path)


def test_a_parent_entry_that_is_not_a_mapping_is_a_broken_file(path):
    write(path, {'version': 1, 'parents': {'eth1': 1500}})
    with pytest.raises(_parents.ParentsError):
        _parents.load(path)
