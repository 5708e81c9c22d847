# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin_utils/_registered: what the filters read of other hosts' registered results."""

from __future__ import annotations

import pytest

from ansible_collections.l2sec.macsec.plugins.plugin_utils import _registered

HEALTH = {'healthy': True, 'connections': {}}


def test_registered_gives_the_mapping_or_nothing():
    hostvars = {'a': {'health': HEALTH, 'odd': 'text'}}
    assert _registered.registered(hostvars, 'a', 'health') == HEALTH
    assert _registered.registered(hostvars, 'a', 'odd') == {}
    assert _registered.registered(hostvars, 'a', 'missing') == {}
    assert _registered.registered(hostvars, 'b', 'health') == {}


@pytest.mark.parametrize('result, expected', [
    ({'unreachable': True}, True),
    ({'results': [{'changed': True}, {'unreachable': True}]}, True),
    ({'results': ['odd', {'changed': True}]}, False),
    ({'skipped': True}, False),
])
def test_lost_in_the_task_or_in_any_item(result, expected):
    assert _registered.lost(result) is expected


def test_checked_gives_the_health_and_whether_the_host_was_lost_there_or_in_a_reached_task():
    hostvars = {
        'a': {'health': HEALTH},
        'b': {'health': {'unreachable': True, 'msg': 'timeout'}},
        'c': {'health': HEALTH, 'restarts': {'results': [{'unreachable': True}]}},
        'd': {'health': HEALTH, 'restarts': {'changed': True}, 'jobs': {'skipped': True}},
    }
    reached = ('restarts', 'jobs')
    assert _registered.checked(hostvars, 'a', 'health', reached) == (HEALTH, False)
    assert _registered.checked(hostvars, 'b', 'health', reached) == ({'unreachable': True, 'msg': 'timeout'}, True)
    assert _registered.checked(hostvars, 'c', 'health', reached) == (HEALTH, True)
    assert _registered.checked(hostvars, 'c', 'health') == (HEALTH, False)
    assert _registered.checked(hostvars, 'd', 'health', reached) == (HEALTH, False)
    assert _registered.checked(hostvars, 'e', 'health', reached) == ({}, False)


def test_flagged_links_names_the_links_of_the_flagged_items_only():
    result = {'results': [
        {'pending': True, 'link': 'a'},
        {'pending': False, 'link': 'b'},
        {'pending': True, 'link': None},   # an item whose link cannot be named
        'odd',
        {'pending': True, 'link': 'a'},
        {'link': 'c'},
    ]}
    assert _registered.flagged_links(result, 'pending', lambda item: item.get('link')) == {'a'}
    assert _registered.flagged_links({'skipped': True}, 'pending', lambda item: item.get('link')) == set()
