# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The TX PN registry (plugins/module_utils/_pn_registry.py): claims start above every PN a key may have used,
observations move the reservation and size the margin, and the file is private, atomic, locked and never
silently reset."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest

from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry as pr

KEY = bytes(range(16))
KEY_HEX = KEY.hex()
KEY256 = bytes(range(32))
OTHER_KEY = bytes(range(0x80, 0x90))
SCI = '5254001234560001'
SCI2 = '5254001234570001'
MARGIN = 1000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now=1_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def path(tmp_path):
    # In a directory that does not exist yet: open() must create it.
    return str(tmp_path / 'state' / 'pn-registry.json')


@pytest.fixture
def clock():
    return Clock()


def opened(path, clock=None, **options):
    options.setdefault('min_margin', MARGIN)
    return pr.PnRegistry.open(path, clock=clock or Clock(), **options)


def read_json(path):
    with open(path, encoding='utf-8') as stream:
        return json.load(stream)


# ---------------------------------------------------------------------------------------------------------------
# Fingerprints and values in

def test_fingerprint_known_answer():
    assert pr.key_fingerprint(KEY) == '769c42552294d98effd3dc4ec1b9f8cb'
    assert pr.key_fingerprint(KEY256) == 'ca090669e9cf24ff6689244a19605fa5'
    # The definition, recomputed: SHA-256 over the domain prefix and the key bytes, first 16 bytes.
    assert pr.key_fingerprint(KEY) == hashlib.sha256(b'l2sec.macsec/pn-registry/v1\x00' + KEY).digest()[:16].hex()


def test_fingerprint_accepts_bytes_and_hex_alike():
    expected = pr.key_fingerprint(KEY)
    assert pr.key_fingerprint(KEY_HEX) == expected
    assert pr.key_fingerprint(KEY_HEX.upper()) == expected
    assert pr.key_fingerprint(bytearray(KEY)) == expected
    assert pr.key_fingerprint(':'.join(KEY_HEX[i:i + 2] for i in range(0, 32, 2))) == expected


@pytest.mark.parametrize('key', ['00' * 15, b'\x01' * 20, 'zz' * 16, 1234])
def test_bad_key_is_refused_without_showing_it(key):
    with pytest.raises(ValueError) as error:
        pr.key_fingerprint(key)
    assert '00' * 15 not in str(error.value) and 'zz' not in str(error.value)


def test_sci_forms():
    assert pr.sci_hex(0x5254001234560001) == SCI
    assert pr.sci_hex('52:54:00:12:34:56:00:01') == SCI
    assert pr.sci_hex(SCI.upper()) == SCI
    for bad in ('525400123456', True, -1, 1 << 64):
        with pytest.raises(ValueError):
            pr.sci_hex(bad)


# ---------------------------------------------------------------------------------------------------------------
# claim, observe, retire

def test_claim_on_empty_registry_is_the_desired_pn(path):
    with opened(path) as registry:
        assert registry.claim(SCI, KEY) == 1
        assert registry.claim(SCI2, OTHER_KEY, desired_pn=5000) == 5000
        assert registry.entry(SCI, KEY)['reserved'] == MARGIN
        assert registry.entry(SCI2, OTHER_KEY)['reserved'] == 5000 - 1 + MARGIN


def test_claim_after_observe_starts_above_the_reservation(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY)
        clock.now += 30
        result = registry.observe(SCI, KEY, 500_000)
        assert result['reserved'] >= 500_000 - 1 + MARGIN
        start = registry.claim(SCI, KEY, desired_pn=1)
    assert start == result['reserved'] + 1


def test_reclaim_without_observation_still_moves_forward(path):
    # A reboot before the timer ever ran: the second install starts above the first one's margin.
    with opened(path) as registry:
        first = registry.claim(SCI, KEY)
    with opened(path) as registry:
        second = registry.claim(SCI, KEY)
    assert second == first + MARGIN


def test_claim_is_written_ahead(path):
    with opened(path) as registry:
        start = registry.claim(SCI, KEY, key_id='ab' * 16, ifname='macsec0')
        # Still inside the lock, before any clean exit: another reader already sees the reservation.
        seen = pr.PnRegistry.load(path).entry(SCI, KEY)
        assert seen['reserved'] == start - 1 + MARGIN
        assert seen['key_id'] == 'ab' * 16 and seen['ifname'] == 'macsec0'


def test_claim_survives_a_crash_of_the_caller(path):
    with pytest.raises(RuntimeError):
        with opened(path) as registry:
            start = registry.claim(SCI, KEY)
            raise RuntimeError('the install failed half way')
    with opened(path) as registry:
        assert registry.claim(SCI, KEY) == start + MARGIN


def test_unsaved_observation_is_dropped_on_an_exception(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY)
    with pytest.raises(RuntimeError):
        with opened(path, clock) as registry:
            registry.observe(SCI, KEY, 900)
            raise RuntimeError('boom')
    assert pr.PnRegistry.load(path).entry(SCI, KEY)['observed_pn'] == 1


def test_margin_grows_with_the_observed_rate(path, clock):
    with opened(path, clock, interval=30, safety=4) as registry:
        registry.claim(SCI, KEY)
        clock.now += 10
        slow = registry.observe(SCI, KEY, 1 + 10 * 5)  # 5 PN/s, 600 per 4 intervals: the minimum margin rules
        assert slow['rate'] == pytest.approx(5)
        assert slow['margin'] == MARGIN
        clock.now += 10
        fast = registry.observe(SCI, KEY, 51 + 10 * 5000)  # 5000 PN/s
        assert fast['rate'] == pytest.approx(5000)
        assert fast['margin'] == 4 * 5000 * 30
        assert fast['reserved'] == 51 + 10 * 5000 - 1 + 4 * 5000 * 30
        # A later claim of the same key uses the rate it was last seen at.
        start = registry.claim(SCI, KEY)
        assert registry.entry(SCI, KEY)['reserved'] == start - 1 + 4 * 5000 * 30


def test_rate_ignores_backward_and_simultaneous_observations(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY)
        clock.now += 10
        registry.observe(SCI, KEY, 201)
        registry.observe(SCI, KEY, 301)  # same instant
        clock.now += 10
        registry.observe(SCI, KEY, 50)  # went back: someone reinstalled it lower
        entry = registry.entry(SCI, KEY)
    assert entry['rate'] == pytest.approx(20)
    assert entry['reserved'] == 301 - 1 + 4 * 20 * 30  # never moves back


def test_claim_measures_the_next_rate_from_the_new_start(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY)
        clock.now += 10
        registry.observe(SCI, KEY, 101)
        start = registry.claim(SCI, KEY)  # the PN jumps to start: not traffic
        clock.now += 10
        result = registry.observe(SCI, KEY, start + 100)
    assert result['rate'] == pytest.approx(10)


def test_overrun_is_reported(path, clock):
    with opened(path, clock) as registry:
        start = registry.claim(SCI, KEY)
        clock.now += 30
        within = registry.observe(SCI, KEY, start + MARGIN)  # used start .. start + MARGIN - 1: all reserved
        assert not within['overrun'] and within['overrun_by'] == 0
        clock.now += 30
        reserved = within['reserved']
        beyond = registry.observe(SCI, KEY, reserved + 1 + 42)
    assert beyond['overrun'] and beyond['overrun_by'] == 42
    assert beyond['previous_reserved'] == reserved
    assert beyond['reserved'] > reserved + 42


def test_observing_an_unknown_sa_creates_its_entry(path, clock):
    with opened(path, clock) as registry:
        result = registry.observe(SCI, KEY, 7000, xpn=True, key_id='cd' * 16, ifname='macsec1')
        entry = registry.entry(SCI, KEY)
    assert result['created'] and not result['overrun'] and result['previous_reserved'] is None
    assert entry['reserved'] == 7000 - 1 + MARGIN and entry['xpn'] is True
    assert entry['created_at'] == clock.now and entry['retired_at'] is None


def test_retire_keeps_the_entry_and_a_reclaim_moves_forward(path, clock):
    with opened(path, clock) as registry:
        start = registry.claim(SCI, KEY)
        clock.now += 5
        registry.observe(SCI, KEY, start + 10)
        assert registry.retire(SCI, KEY)
        assert not registry.retire(SCI2, KEY)
        retired_at = clock.now
    with opened(path, clock) as registry:
        entry = registry.entry(SCI, KEY)
        assert entry['retired_at'] == retired_at and entry['reinstalled_at'] is None
        clock.now += 100
        again = registry.claim(SCI, KEY)
        entry = registry.entry(SCI, KEY)
    assert again == start + 10 + MARGIN
    assert entry['retired_at'] == retired_at and entry['reinstalled_at'] == clock.now


def test_a_key_starts_above_its_use_on_any_sci(path):
    # With XPN the nonce holds the SSCI, not the SCI: a new MAC must not restart the PN of the same key.
    with opened(path) as registry:
        registry.claim(SCI, KEY, desired_pn=10_000)
        assert registry.claim(SCI2, KEY) == 10_000 + MARGIN
        assert registry.claim(SCI2, OTHER_KEY) == 1


# ---------------------------------------------------------------------------------------------------------------
# The PN limit

def test_exhaustion_is_refused_for_32_bit_and_allowed_with_xpn(path, clock):
    near = 2 ** 32 - 1 - MARGIN - 500  # reserved leaves 500 PNs: less than a margin
    with opened(path, clock) as registry:
        registry.observe(SCI, KEY, near, key_id='ef' * 16)
        before = registry.entry(SCI, KEY)
        assert registry.headroom(SCI, KEY) == 501
        with pytest.raises(pr.PnExhaustedError) as error:
            registry.claim(SCI, KEY, key_id='ef' * 16)
        assert isinstance(error.value, ValueError)
        message = str(error.value)
        assert '32-bit' in message and 'ef' * 16 in message and SCI in message and '4294967295' in message
        assert 'gcm-aes-xpn' in message and 'generation' in message
        assert registry.entry(SCI, KEY) == before  # a refusal reserves nothing
        # The same position with XPN has room.
        assert registry.claim(SCI2, OTHER_KEY, desired_pn=near, xpn=True) == near
        assert registry.headroom(SCI2, OTHER_KEY) == 2 ** 64 - 1 - (near - 1 + MARGIN)


def test_exhaustion_names_the_fingerprint_without_a_key_id(path):
    with opened(path) as registry:
        with pytest.raises(pr.PnExhaustedError, match=pr.key_fingerprint(KEY)):
            registry.claim(SCI, KEY, desired_pn=2 ** 32 - MARGIN)
        assert registry.claim(SCI, KEY, desired_pn=2 ** 32 - 1 - MARGIN) == 2 ** 32 - 1 - MARGIN


def test_kernel_wrap_to_zero_means_every_pn_is_used(path):
    # The kernel's next PN of a 32-bit SA wraps to 0 after PN 2**32 - 1 was sent.
    with opened(path) as registry:
        registry.claim(SCI, KEY, desired_pn=2 ** 32 - 1 - MARGIN)
        registry.observe(SCI, KEY, 0)
        assert registry.entry(SCI, KEY)['reserved'] == 2 ** 32 - 1
        assert registry.headroom(SCI, KEY) == 0
        with pytest.raises(pr.PnExhaustedError):
            registry.claim(SCI, KEY)


def test_bad_pns_are_refused(path):
    with opened(path) as registry:
        for bad in (0, -1, 2 ** 32, True, 1.0):
            with pytest.raises(ValueError):
                registry.claim(SCI, KEY, desired_pn=bad)
        with pytest.raises(ValueError):
            registry.observe(SCI, KEY, 2 ** 32 + 1)


# ---------------------------------------------------------------------------------------------------------------
# The file

def test_missing_file_is_an_empty_registry(path):
    assert pr.PnRegistry.load(path).entries() == []
    assert not os.path.exists(os.path.dirname(path))  # a read creates nothing


def test_modes_are_private_even_with_an_open_umask(path):
    old = os.umask(0)
    try:
        with opened(path) as registry:
            registry.claim(SCI, KEY)
    finally:
        os.umask(old)
    assert pr.file_mode(os.path.dirname(path)) == 0o700
    assert pr.file_mode(path) == 0o600
    assert pr.file_mode(path + '.lock') == 0o600


def test_writes_leave_no_temporary_file(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY)
        for step in range(5):
            clock.now += 1
            registry.observe(SCI, KEY, 100 * (step + 1))
            registry.save()
    assert sorted(os.listdir(os.path.dirname(path))) == ['pn-registry.json', 'pn-registry.json.lock']


def test_a_failed_write_keeps_the_old_file_and_no_temporary(path, monkeypatch):
    with opened(path) as registry:
        registry.claim(SCI, KEY)
    with open(path, 'rb') as stream:
        before = stream.read()

    def broken_replace(source, target):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(pr.os, 'replace', broken_replace)
    with pytest.raises(OSError):
        with opened(path) as registry:
            registry.claim(SCI, KEY)  # raises: the caller must not install
    monkeypatch.undo()
    with open(path, 'rb') as stream:
        assert stream.read() == before
    assert sorted(os.listdir(os.path.dirname(path))) == ['pn-registry.json', 'pn-registry.json.lock']


def test_file_format_is_stable_and_sorted(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI2, KEY)
        registry.claim(SCI, OTHER_KEY)
        registry.claim(SCI, KEY)
    document = read_json(path)
    assert document['version'] == 1
    names = [(entry['sci'], entry['key']) for entry in document['entries']]
    assert names == sorted(names)
    assert set(document['entries'][0]) == {
        'sci', 'key', 'key_id', 'ifname', 'xpn', 'reserved', 'observed_pn', 'observed_at', 'rate',
        'created_at', 'claimed_at', 'retired_at', 'reinstalled_at'}
    with open(path, 'rb') as stream:
        first = stream.read()
    with opened(path, clock) as registry:
        registry.save()
    with open(path, 'rb') as stream:
        assert stream.read() == first


def test_the_key_is_never_stored(path):
    with opened(path) as registry:
        registry.claim(SCI, KEY_HEX)
        registry.claim(SCI2, KEY256)
    with open(path, encoding='utf-8') as stream:
        text = stream.read().lower()
    for key in (KEY, KEY256):
        assert key.hex() not in text
    assert pr.key_fingerprint(KEY) in text


CORRUPT = {
    'not json': b'{"version": 1, "entries": [',
    'empty': b'',
    'not an object': b'[]',
    'no entries': b'{"version": 1}',
    'bad sci': b'{"version": 1, "entries": [{"sci": "xyz", "key": "%s", "xpn": false, "reserved": 5}]}',
    'negative reserved': (b'{"version": 1, "entries": [{"sci": "%s", "key": "%s", "xpn": false, "reserved": -1}]}'
                          % (SCI.encode(), b'0' * 32)),
    'repeated entry': (b'{"version": 1, "entries": [%s, %s]}' % ((
        b'{"sci": "%s", "key": "%s", "xpn": false, "reserved": 5}' % (SCI.encode(), b'0' * 32),) * 2)),
    'unknown version': b'{"version": 2, "entries": []}',
}


@pytest.mark.parametrize('content', list(CORRUPT.values()), ids=list(CORRUPT))
def test_corrupt_file_raises_and_is_left_untouched(path, content):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as stream:
        stream.write(content)
    with pytest.raises(pr.RegistryError) as error:
        with opened(path) as registry:
            registry.claim(SCI, KEY)
    assert path in str(error.value) and 'move it aside' in str(error.value)
    with pytest.raises(pr.RegistryError):
        pr.PnRegistry.load(path)
    with open(path, 'rb') as stream:
        assert stream.read() == content


def test_unreadable_file_raises(path):
    os.makedirs(path)  # a directory where the file should be: unreadable as a file, even for root
    with pytest.raises(pr.RegistryError, match='cannot read'):
        pr.PnRegistry.load(path)


def test_read_only_registry_refuses_changes(path):
    with opened(path) as registry:
        registry.claim(SCI, KEY)
    registry = pr.PnRegistry.load(path)
    for change in (lambda: registry.claim(SCI, KEY), lambda: registry.observe(SCI, KEY, 5),
                   lambda: registry.retire(SCI, KEY), registry.save):
        with pytest.raises(pr.RegistryError, match='not open for writing'):
            change()


# ---------------------------------------------------------------------------------------------------------------
# The lock

def test_sequential_writers_see_each_other(path, clock):
    with opened(path, clock) as registry:
        registry.observe(SCI, KEY, 100)
    with opened(path, clock) as registry:
        assert registry.entry(SCI, KEY)['observed_pn'] == 100
        registry.observe(SCI2, KEY, 200)
    assert len(pr.PnRegistry.load(path).entries()) == 2


def test_a_waiting_writer_sees_the_first_writers_save(path, clock):
    seen = {}

    def second_writer():
        with opened(path, clock) as registry:
            seen['entry'] = registry.entry(SCI, KEY)

    with opened(path, clock) as registry:
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(0.3)
        assert thread.is_alive()  # blocked on the lock (flock locks per open file, so threads too)
        registry.observe(SCI, KEY, 4242)  # saved only on the clean exit below
    thread.join(10)
    assert not thread.is_alive()
    assert seen['entry']['observed_pn'] == 4242


def test_lock_timeout_is_an_error(path):
    with opened(path):
        with pytest.raises(pr.RegistryError, match='locked by another process'):
            with opened(path, lock_timeout=0.1):
                pass  # pragma: no cover - not reached


# ---------------------------------------------------------------------------------------------------------------
# By key id: for SAs whose key the caller does not hold (the kernel returns key ids, never keys)

KEY_ID = 'ab' * 16


def test_find_key_id_picks_the_latest_claimed_key_with_that_id(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY, key_id=KEY_ID)
        clock.now += 10
        registry.claim(SCI, OTHER_KEY, key_id=KEY_ID)  # the same id given to another key later
        registry.claim(SCI2, KEY256, key_id=KEY_ID)  # another SCI does not count
        assert registry.find_key_id(SCI, KEY_ID)['key'] == pr.key_fingerprint(OTHER_KEY)
        clock.now += 10
        registry.claim(SCI, KEY, key_id=KEY_ID)
        found = registry.find_key_id(SCI.upper(), KEY_ID.upper())
        assert found['key'] == pr.key_fingerprint(KEY) and found['claimed_at'] == clock.now
        assert registry.find_key_id(int(SCI, 16), bytes.fromhex(KEY_ID))['key'] == pr.key_fingerprint(KEY)
        assert registry.find_key_id(SCI2, KEY_ID)['key'] == pr.key_fingerprint(KEY256)
        # A copy: changing it changes nothing.
        found['reserved'] = 0
        assert registry.entry(SCI, KEY)['reserved'] > 0


def test_find_key_id_of_nothing_is_none(path):
    with opened(path) as registry:
        registry.claim(SCI, KEY, key_id=KEY_ID)
        assert registry.find_key_id(SCI, 'cd' * 16) is None
        assert registry.find_key_id(SCI2, KEY_ID) is None
        assert registry.find_key_id(None, KEY_ID) is None
        assert registry.find_key_id(SCI, None) is None
        registry.observe(SCI2, OTHER_KEY, 10)  # an entry without key id
        assert registry.find_key_id(SCI2, KEY_ID) is None


def test_observe_key_id_of_an_unknown_key_returns_none_and_records_nothing(path, clock):
    with opened(path, clock) as registry:
        assert registry.observe_key_id(SCI, KEY_ID, 5000) is None
        assert registry.entries() == [] and not registry.dirty
    assert not os.path.exists(path)


def test_observe_key_id_moves_the_reservation_of_that_key(path, clock):
    with opened(path, clock) as registry:
        start = registry.claim(SCI, KEY, key_id=KEY_ID)
        clock.now += 30
        seen = registry.observe_key_id(SCI, KEY_ID, start + 60_000, ifname='macsec3')  # 2000 PN/s
        entry = registry.entry(SCI, KEY)
    assert seen['rate'] == 2000 and seen['margin'] == 4 * 30 * 2000
    assert seen['reserved'] == entry['reserved'] == start + 60_000 - 1 + 4 * 30 * 2000
    assert seen['overrun'] and seen['overrun_by'] == 60_000 - MARGIN  # it had sent past the claim's margin
    assert entry['observed_pn'] == start + 60_000 and entry['ifname'] == 'macsec3' and entry['key_id'] == KEY_ID


def test_retire_key_id_records_the_last_pn_and_the_time(path, clock):
    with opened(path, clock) as registry:
        start = registry.claim(SCI, KEY, key_id=KEY_ID)
        clock.now += 30
        assert registry.retire_key_id(SCI, KEY_ID, next_pn=start + 700) is True
        retired_at = clock.now
        assert registry.retire_key_id(SCI, 'cd' * 16, next_pn=9) is False
        assert registry.retire_key_id(SCI2, KEY_ID) is False
    entry = pr.PnRegistry.load(path).entry(SCI, KEY)
    assert entry['retired_at'] == retired_at and entry['observed_pn'] == start + 700
    assert entry['reserved'] >= start + 700 - 1 + MARGIN
    with opened(path, clock) as registry:
        assert registry.claim(SCI, KEY, key_id=KEY_ID) == entry['reserved'] + 1
        assert registry.entry(SCI, KEY)['reinstalled_at'] == clock.now


def test_retire_key_id_without_a_pn_only_marks_it(path, clock):
    with opened(path, clock) as registry:
        registry.claim(SCI, KEY, key_id=KEY_ID)
        before = registry.entry(SCI, KEY)
        clock.now += 5
        assert registry.retire_key_id(SCI, KEY_ID)
        after = registry.entry(SCI, KEY)
    assert after == dict(before, retired_at=clock.now)


def test_headroom_of_an_entry(path):
    with opened(path) as registry:
        registry.claim(SCI, KEY, desired_pn=1000, key_id=KEY_ID)
        registry.claim(SCI2, KEY, desired_pn=1, xpn=True)
        assert registry.headroom_of(registry.find_key_id(SCI, KEY_ID)) == 2 ** 32 - 1 - (1000 + MARGIN - 1)
        assert registry.headroom_of(registry.entry(SCI2, KEY)) == 2 ** 64 - 1 - (1000 + MARGIN - 1 + MARGIN)
        assert registry.headroom_of(dict(registry.entry(SCI, KEY), reserved=2 ** 32)) == 0


def test_read_only_registry_refuses_changes_by_key_id(path):
    with opened(path) as registry:
        registry.claim(SCI, KEY, key_id=KEY_ID)
    registry = pr.PnRegistry.load(path)
    assert registry.find_key_id(SCI, KEY_ID) is not None  # reading is fine
    for change in (lambda: registry.observe_key_id(SCI, KEY_ID, 5), lambda: registry.retire_key_id(SCI, KEY_ID),
                   lambda: registry.retire_key_id(SCI, KEY_ID, next_pn=5)):
        with pytest.raises(pr.RegistryError, match='not open for writing'):
            change()
    assert registry.entry(SCI, KEY)['retired_at'] is None


def test_no_registry_yields_none():
    with pr.no_registry() as registry:
        assert registry is None
