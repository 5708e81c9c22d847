# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verdict of commit-confirmed daemon configurations (plugins/plugin_utils/_verdicts.py): a link is confirmed
when no end of it gave a reason; the pending ends of a confirmed link commit their change; every end of a link that
is not confirmed fails; `shown` adds keys of the link's first end."""

from __future__ import annotations

from ansible_collections.l2sec.macsec.plugins.plugin_utils import _verdicts

End = _verdicts.End


def end(link, host, pending=False, lost=False, reasons=(), change=None):
    return End(link, host, change or 'ike-' + link, pending, lost, list(reasons))


def test_an_end_has_the_fields_the_filters_fill():
    assert End._fields == ('link', 'host', 'change', 'pending', 'lost', 'reasons')


def test_no_ends_no_verdict():
    assert _verdicts.decide([]) == {'links': {}, 'commit': {}, 'failed': {}}


def test_a_healthy_link_commits_the_change_of_its_pending_ends_only():
    verdicts = _verdicts.decide([end('ab', 'node-a', pending=True), end('ab', 'node-b')])
    assert verdicts == {
        'links': {'ab': {'confirmed': True, 'reasons': [], 'ends': ['node-a', 'node-b'], 'pending': ['node-a'],
                         'lost': []}},
        'commit': {'node-a': ['ike-ab']},
        'failed': {},
    }


def test_a_reason_at_one_end_fails_every_end_and_commits_nothing():
    verdicts = _verdicts.decide([end('ab', 'node-a', pending=True, reasons=['node-a: no ESP came in']),
                                 end('ab', 'node-b', pending=True, lost=True, reasons=['node-b was lost'])])
    link = verdicts['links']['ab']
    assert link['confirmed'] is False and link['reasons'] == ['node-a: no ESP came in', 'node-b was lost']
    assert link['pending'] == ['node-a', 'node-b'] and link['lost'] == ['node-b']
    assert verdicts['commit'] == {} and verdicts['failed'] == {'node-a': ['ab'], 'node-b': ['ab']}


def test_an_end_that_did_not_change_still_fails_with_its_link():
    verdicts = _verdicts.decide([end('ab', 'node-a', pending=True), end('ab', 'node-b', reasons=['down'])])
    assert verdicts['failed'] == {'node-a': ['ab'], 'node-b': ['ab']} and verdicts['commit'] == {}


def test_each_link_is_decided_on_its_own_in_name_order():
    verdicts = _verdicts.decide([
        end('zz', 'node-a', pending=True), end('ab', 'node-a', pending=True), end('mm', 'node-a', pending=True),
        end('ab', 'node-b', pending=True), end('mm', 'node-b', reasons=['no IKE SA']), end('zz', 'node-c'),
    ])
    assert list(verdicts['links']) == ['ab', 'mm', 'zz']
    assert verdicts['commit'] == {'node-a': ['ike-ab', 'ike-zz'], 'node-b': ['ike-ab']}
    assert verdicts['failed'] == {'node-a': ['mm'], 'node-b': ['mm']}
    assert verdicts['links']['zz']['ends'] == ['node-a', 'node-c']


def test_the_change_committed_is_that_of_the_end():
    verdicts = _verdicts.decide([end('ab', 'node-a', pending=True, change='msab'),
                                 end('ab', 'node-b', pending=True, change='msab2')])
    assert verdicts['commit'] == {'node-a': ['msab'], 'node-b': ['msab2']}
    # What each end changes is no key of the link's entry.
    assert 'changes' not in verdicts['links']['ab']


def test_shown_keys_come_from_the_first_end_of_the_link():
    verdicts = _verdicts.decide([end('ab', 'node-a', change='msab'), end('ab', 'node-b', change='other')],
                                ifname=lambda first: first.change, first=lambda first: first.host)
    link = verdicts['links']['ab']
    assert link['ifname'] == 'msab' and link['first'] == 'node-a'
    assert set(link) == {'ifname', 'first', 'confirmed', 'reasons', 'ends', 'pending', 'lost'}


def test_a_link_with_one_end_in_the_play_is_decided_by_it():
    verdicts = _verdicts.decide([end('ab', 'node-a', pending=True)])
    assert verdicts['links']['ab']['confirmed'] and verdicts['commit'] == {'node-a': ['ike-ab']}
