# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The record of retired link generations (plugins/module_utils/_generations.py): a missing record is empty, a
broken one is an error (never taken for empty), retire() keeps the highest generation of each link and writes
nothing in check mode, and effective_generation() never goes back."""

from __future__ import annotations

import json
import os
import stat

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _generations


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'lib' / 'generations.json')


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))


def test_a_missing_record_is_empty(path):
    assert _generations.load(path) == {}


def test_load_returns_the_links(path):
    write(path, {'version': 1, 'links': {'dc1-ab': 3, 'dc1-bc': 1}})
    assert _generations.load(path) == {'dc1-ab': 3, 'dc1-bc': 1}


BROKEN = [
    ('not json', '{"version": 1, "links": {', 'is not JSON'),
    ('not an object', '[1, 2]', 'is not a version 1 record'),
    ('other version', {'version': 2, 'links': {}}, 'is not a version 1 record'),
    ('no links', {'version': 1}, 'is not a version 1 record'),
    ('links a list', {'version': 1, 'links': ['dc1-ab']}, 'is not a version 1 record'),
    ('generation a string', {'version': 1, 'links': {'dc1-ab': '3'}}, 'is not a version 1 record'),
    ('generation a boolean', {'version': 1, 'links': {'dc1-ab': True}}, 'is not a version 1 record'),
    ('generation a float', {'version': 1, 'links': {'dc1-ab': 2.5}}, 'is not a version 1 record'),
]


@pytest.mark.parametrize('data, message', [case[1:] for case in BROKEN], ids=[case[0] for case in BROKEN])
def test_a_broken_record_is_an_error_not_an_empty_one(path, data, message):
    write(path, data)
    with pytest.raises(_generations.GenerationsError, match=message):
        _generations.load(path)


def test_a_broken_record_says_never_to_delete_it(path):
    write(path, 'garbage')
    with pytest.raises(_generations.GenerationsError) as error:
        _generations.load(path)
    assert str(error.value).startswith(path + ' is not JSON')
    assert 'never delete it' in str(error.value)


def test_an_unreadable_record_is_an_error(path):
    os.makedirs(path)  # a directory where the file should be
    with pytest.raises(_generations.GenerationsError, match='cannot read %s' % path):
        _generations.load(path)


def test_retire_creates_a_private_record(path):
    assert _generations.retire({'dc1-ab': 2}, path) == ['dc1-ab']
    assert _generations.load(path) == {'dc1-ab': 2}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    with open(path, encoding='utf-8') as handle:
        assert json.load(handle) == {'version': 1, 'links': {'dc1-ab': 2}}


def test_retire_keeps_the_highest_generation_and_never_lowers_one(path):
    _generations.retire({'dc1-ab': 3, 'dc1-bc': 1}, path)
    moved = _generations.retire({'dc1-ab': 2, 'dc1-bc': 4, 'dc1-cd': 1}, path)
    assert moved == ['dc1-bc', 'dc1-cd']
    assert _generations.load(path) == {'dc1-ab': 3, 'dc1-bc': 4, 'dc1-cd': 1}
    # The same generation again moves nothing.
    assert _generations.retire({'dc1-ab': 3}, path) == []
    assert _generations.load(path)['dc1-ab'] == 3


def test_retire_returns_the_moved_names_sorted(path):
    assert _generations.retire({'zz': 1, 'aa': 1, 'mm': 1}, path) == ['aa', 'mm', 'zz']


def test_retire_of_nothing_new_writes_no_file(path):
    assert _generations.retire({}, path) == []
    assert not os.path.exists(os.path.dirname(path))


def test_retire_in_check_mode_says_what_would_move_and_writes_nothing(path):
    assert _generations.retire({'dc1-ab': 2}, path, check_mode=True) == ['dc1-ab']
    assert not os.path.exists(os.path.dirname(path))
    _generations.retire({'dc1-ab': 2}, path)
    with open(path, encoding='utf-8') as handle:
        before = handle.read()
    assert _generations.retire({'dc1-ab': 5, 'dc1-bc': 1}, path, check_mode=True) == ['dc1-ab', 'dc1-bc']
    with open(path, encoding='utf-8') as handle:
        assert handle.read() == before


def test_retire_never_overwrites_a_broken_record(path):
    write(path, 'not json')
    with pytest.raises(_generations.GenerationsError):
        _generations.retire({'dc1-ab': 2}, path)
    with open(path, encoding='utf-8') as handle:
        assert handle.read() == 'not json'


def test_text_of_is_sorted_and_ends_with_a_newline():
    text = _generations.text_of({'b': 2, 'a': 1})
    assert text.endswith('}\n')
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {'version': 1, 'links': {'a': 1, 'b': 2}}


@pytest.mark.parametrize('inventory, retired, effective', [
    (1, [], 1),  # nothing retired: the inventory's
    (1, [1], 2),  # one above what was retired
    (1, [3, 1, 2], 4),  # one above the highest of the ends
    (7, [3], 7),  # the inventory is already above: kept
    (3, [3], 4),  # the inventory names a retired generation: one above
    (2, [5, 0], 6),
])
def test_effective_generation(inventory, retired, effective):
    assert _generations.effective_generation(inventory, retired) == effective


def test_retire_request_takes_whole_generations_from_1_and_names_the_option_otherwise():
    assert _generations.retire_request({}) == {}
    assert _generations.retire_request({'rack1-ab': 2, 'rack1-cd': '3'}) == {'rack1-ab': 2, 'rack1-cd': 3}
    for bad in ({'rack1-ab': 0}, {'rack1-ab': True}, {'rack1-ab': 'two'}, {'': 1}, ['rack1-ab']):
        with pytest.raises(_generations.GenerationsError, match='^retire: '):
            _generations.retire_request(bad)
