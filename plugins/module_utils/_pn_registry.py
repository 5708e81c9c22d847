# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The PN registry: a host's record of the TX packet numbers it may have used, per SCI and key.

Why. MACsec's AES-GCM nonce is the SCI and the PN (with XPN: the SSCI and the PN, each mixed with the salt); the
AN is not part of it. The same (SAK, SCI, PN) twice is nonce reuse: it leaks the XOR of two plaintexts and lets
anyone who sees both frames forge frames (GHASH key recovery). Static keys, which the kernel provider installs,
are installed again after a reboot, after a link is recreated (a changed ICV length), after a teardown and a
re-deploy; an install that starts the PN at 1 again reuses every nonce already sent (systemd issue #13607). MKA
does not have the problem: it hands out a fresh SAK each time.

How. Each host keeps, for every TX key it has used on every SCI, a high-water mark `reserved`: every PN up to and
including it may have been used. Three operations keep it ahead of the kernel:

- `claim()` before a TX SA is installed: the SA starts at `reserved + 1` (or higher if asked), and `reserved`
  moves at once to the start plus a margin. The registry is saved (fsync) before `claim()` returns: a write-ahead
  record, so a crash after the install still finds the PNs the SA may have sent before the next observation.
- `observe()` periodically (a systemd timer) and before a TX SA is removed: the kernel's next PN for the SA moves
  `reserved` to that PN plus a margin, and the rate between two observations sizes the margin
  (`margin_for()`: at least `min_margin`, else `safety` times what the SA sends in one timer `interval`).
- `retire()` when the SA is removed. Entries are never deleted: a torn-down link that comes back with the same
  key must still start above everything it sent.

A 32-bit PN (GCM-AES-128/256) has room for 2**32 - 1 frames per key; `claim()` refuses with `PnExhaustedError`
when the next safe PN and its margin do not fit: the link needs a new key (a new generation) or an XPN cipher.

The file (default /var/lib/l2sec-macsec/pn-registry.json, 0600 in a 0700 directory) is JSON:
{"version": 1, "entries": [...]}, entries sorted by SCI and key, keys sorted: stable, diffable output. It never
holds a key: an entry names its key by a one-way fingerprint (`key_fingerprint()`). Writes are atomic and
durable (temporary file in the same directory, fsync, rename, fsync of the directory). Writers (the Ansible
module and the timer's agent) take an flock on `<file>.lock` for the whole read-modify-write: `PnRegistry.open()`.
`PnRegistry.load()` reads without the lock, for reports. A missing file is an empty registry; a file that
cannot be read or parsed is an error, never an empty registry, because an empty registry starts every PN at 1.

Limits, plainly:

- A registry on disk can go back in time: a restored disk snapshot or VM snapshot, a restored backup of
  /var/lib, a re-imaged host with the same keys. Every PN sent after the restored state is then sent again.
  Only a new key (a new generation of the link) is safe after such a restore.
- Between two observations the SA may send at most the margin. A burst above `safety` times the measured
  rate, or a timer that stops running, followed by a crash (no observation at removal), can reuse PNs;
  `observe()` reports an `overrun` when it finds the SA already past the reservation, the one sign of it.
  A new key has no measured rate during its first interval: only `min_margin` covers it.
- With offload, the next PN is what the kernel reports; a driver that does not read it back from the
  hardware makes observations stale.
- It protects this host's transmissions only. RX needs nothing: a peer's PNs only grow, which its replay
  protection accepts, and a peer that restarts its PNs is that peer's registry's business.
- It knows the keys this host installed through it (or observed). A key used elsewhere with the same SCI,
  or on another host, is out of its sight.

Standard library (and the collection's _files) only, no Ansible import: the host-side agent runs this file on
its own at boot.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import time

from ansible_collections.l2sec.macsec.plugins.module_utils import _files

DEFAULT_PATH = '/var/lib/l2sec-macsec/pn-registry.json'
FORMAT_VERSION = 1
FILE_MODE = 0o600
DIR_MODE = 0o700

FINGERPRINT_PREFIX = b'l2sec.macsec/pn-registry/v1\x00'
FINGERPRINT_BYTES = 16
KEY_LENGTHS = (16, 32)  # a SAK: GCM-AES-128 / -256 and their XPN variants

PN_LIMIT = (1 << 32) - 1
XPN_PN_LIMIT = (1 << 64) - 1

# 1 << 20 = 1,048,576 PNs. What it covers, honestly: 1 GbE carries at most 1,488,095 frames/s (minimum-size
# frames, 84 bytes on the wire with preamble and gap), so 0.70 s at that worst case, 70 ms at 10 GbE, 12.9 s of
# 1500-byte frames at 1 GbE (81,274 frames/s); over the default 30 s interval, an average of 34,953 frames/s.
# It alone covers a new key's first interval and any SA slower than that; the rate term of margin_for() covers
# faster SAs once they have been observed twice. Its cost: 2**32 / 2**20 = 4096 installs of a 32-bit key.
DEFAULT_MIN_MARGIN = 1 << 20
DEFAULT_INTERVAL = 30  # seconds: the period of the timer that calls observe()
DEFAULT_SAFETY = 4  # a burst of 4 times the measured rate, or 3 missed timer runs, still fit the margin
DEFAULT_LOCK_TIMEOUT = 60  # seconds; a writer that hangs longer is a fault worth an error, not a silent wait

_LOCK_POLL = 0.05
_HEX_SEPARATORS = re.compile(r'[\s:.-]')
_SCI = re.compile(r'[0-9a-f]{16}\Z')
_FINGERPRINT = re.compile(r'[0-9a-f]{%d}\Z' % (2 * FINGERPRINT_BYTES))
_FIX = ('restore it from backup, or move it aside to accept the risk: every key will then be treated as new '
        'and its packet numbers may start again where they were already used')


class RegistryError(Exception):
    """The registry file cannot be used (unreadable, corrupt, unknown version, lock not obtained)."""


class PnExhaustedError(ValueError):
    """No room is left for a TX SA of this key and SCI below the PN limit."""


# ---------------------------------------------------------------------------------------------------------------
# Values in: SCIs, keys, PNs

def sci_hex(sci):
    """An SCI given as int or as 16 hex digits (separators allowed) → 16 lowercase hex digits."""
    if isinstance(sci, bool):
        raise ValueError('not an SCI: %r' % (sci,))
    if isinstance(sci, int):
        if not 0 <= sci < 1 << 64:
            raise ValueError('SCI %r does not fit in 64 bits' % (sci,))
        return '%016x' % sci
    digits = _HEX_SEPARATORS.sub('', str(sci)).lower()
    if not _SCI.match(digits):
        raise ValueError('not an SCI (16 hex digits: MAC and port): %r' % (sci,))
    return digits


def _key_bytes(key):
    # Errors name the rule and never the value: the value is a key.
    if isinstance(key, str):
        try:
            key = bytes.fromhex(_HEX_SEPARATORS.sub('', key))
        except ValueError:
            raise ValueError('the key is not hex: give bytes or hex digits') from None
    elif isinstance(key, (bytes, bytearray)):
        key = bytes(key)
    else:
        raise ValueError('the key must be bytes or hex digits, not %s' % type(key).__name__)
    if len(key) not in KEY_LENGTHS:
        raise ValueError('the key is %d bytes: a SAK is 16 or 32 bytes' % len(key))
    return key


def key_fingerprint(key):
    """The registry's name of a key: SHA-256 over a domain prefix and the key bytes, first 16 bytes, as hex.

    One-way, so the file holds no key; the prefix keeps it apart from the key id and every other hash of the key.
    """
    return hashlib.sha256(FINGERPRINT_PREFIX + _key_bytes(key)).digest()[:FINGERPRINT_BYTES].hex()


def _key_id_hex(key_id):
    if key_id is None:
        return None
    if isinstance(key_id, (bytes, bytearray)):
        return bytes(key_id).hex()
    digits = _HEX_SEPARATORS.sub('', str(key_id)).lower()
    try:
        bytes.fromhex(digits)
    except ValueError:
        raise ValueError('key id %r is not hex' % (key_id,)) from None
    return digits


def pn_limit(xpn):
    """The highest PN: 2**32 - 1, or 2**64 - 1 with XPN."""
    return XPN_PN_LIMIT if xpn else PN_LIMIT


def _check_int(value, what, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError('%s must be an integer between %d and %d, not %r' % (what, low, high, value))
    return value


# ---------------------------------------------------------------------------------------------------------------
# Files: atomic, durable, private

def _read(path):
    """The file's bytes, or None when it does not exist; RegistryError when it exists and cannot be read."""
    try:
        return _files.read_bytes(path)
    except OSError as error:
        raise RegistryError('cannot read the PN registry %s (%s): fix its access, or %s'
                            % (path, error.strerror or error, _FIX)) from None


# ---------------------------------------------------------------------------------------------------------------
# The file format

def _corrupt(path, why):
    return RegistryError('the PN registry %s is corrupt (%s): %s' % (path, why, _FIX))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_time(value):
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


_TIME_FIELDS = ('observed_at', 'created_at', 'retired_at', 'reinstalled_at', 'claimed_at')


def _check_entry(path, index, entry):
    where = 'entry %d' % index
    if not isinstance(entry, dict):
        raise _corrupt(path, '%s is not an object' % where)
    if not isinstance(entry.get('sci'), str) or not _SCI.match(entry['sci']):
        raise _corrupt(path, '%s: sci is not 16 lowercase hex digits' % where)
    if not isinstance(entry.get('key'), str) or not _FINGERPRINT.match(entry['key']):
        raise _corrupt(path, '%s: key is not a fingerprint of %d hex digits' % (where, 2 * FINGERPRINT_BYTES))
    if not isinstance(entry.get('xpn'), bool):
        raise _corrupt(path, '%s: xpn is not true or false' % where)
    if not _is_int(entry.get('reserved')) or entry['reserved'] < 0:
        raise _corrupt(path, '%s: reserved is not a PN' % where)
    if entry.get('observed_pn') is not None and (not _is_int(entry['observed_pn']) or entry['observed_pn'] < 0):
        raise _corrupt(path, '%s: observed_pn is not a PN' % where)
    if not _is_time(entry.get('rate')) or (entry.get('rate') or 0) < 0:
        raise _corrupt(path, '%s: rate is not a number of PNs per second' % where)
    for field in _TIME_FIELDS:
        if not _is_time(entry.get(field)):
            raise _corrupt(path, '%s: %s is not a time' % (where, field))


def parse(data, path):
    """The entries of a registry file's bytes, as {(sci, key): entry}; RegistryError when it is not one."""
    try:
        document = json.loads(data.decode('utf-8'))
    except (UnicodeDecodeError, ValueError) as error:
        raise _corrupt(path, 'not JSON: %s' % error) from None
    if not isinstance(document, dict):
        raise _corrupt(path, 'not a JSON object')
    if document.get('version') != FORMAT_VERSION:
        raise RegistryError('the PN registry %s has version %r; this code reads version %d only: run the '
                            'l2sec.macsec release that wrote it, or %s'
                            % (path, document.get('version'), FORMAT_VERSION, _FIX))
    if not isinstance(document.get('entries'), list):
        raise _corrupt(path, 'entries is not a list')
    entries = {}
    for index, entry in enumerate(document['entries']):
        _check_entry(path, index, entry)
        name = (entry['sci'], entry['key'])
        if name in entries:
            raise _corrupt(path, 'entry %d repeats SCI %s and key %s' % (index, entry['sci'], entry['key']))
        entries[name] = entry
    return entries


def dump(entries):
    """The file's bytes: sorted entries, sorted keys, one field a line, a final newline."""
    document = {'version': FORMAT_VERSION, 'entries': [entries[name] for name in sorted(entries)]}
    return (json.dumps(document, indent=1, sort_keys=True) + '\n').encode('utf-8')


# ---------------------------------------------------------------------------------------------------------------
# The registry

class PnRegistry:
    """The TX PN high-water marks of one host.

    Writers use `with PnRegistry.open(path) as registry:` (lock, load, save on a clean exit when changed);
    reports use `PnRegistry.load(path)` (no lock, read-only). The constructor alone gives an empty registry
    that is not bound to its file.
    """

    def __init__(self, path=DEFAULT_PATH, min_margin=DEFAULT_MIN_MARGIN, interval=DEFAULT_INTERVAL,
                 safety=DEFAULT_SAFETY, clock=time.time, lock_timeout=DEFAULT_LOCK_TIMEOUT):
        self.path = os.path.abspath(path)
        self.min_margin = _check_int(min_margin, 'min_margin', 1, PN_LIMIT)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval <= 0:
            raise ValueError('interval must be a positive number of seconds, not %r' % (interval,))
        if isinstance(safety, bool) or not isinstance(safety, (int, float)) or safety < 1:
            raise ValueError('safety must be a number of at least 1, not %r' % (safety,))
        self.interval = interval
        self.safety = safety
        self.clock = clock
        self.lock_timeout = lock_timeout
        self.dirty = False
        self._entries = {}
        self._locked = False

    # -- files ----------------------------------------------------------------------------------------------

    @property
    def lock_path(self):
        return self.path + '.lock'

    @classmethod
    @contextlib.contextmanager
    def open(cls, path=DEFAULT_PATH, **options):
        """Lock the registry, load it, yield it; on a clean exit save it if it changed. The lock is held
        throughout, so the timer and the module never interleave their read-modify-write."""
        registry = cls(path, **options)
        _files.ensure_directory(os.path.dirname(registry.path), DIR_MODE)
        descriptor = os.open(registry.lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            registry._lock(descriptor)
            registry._locked = True
            try:
                registry._entries = registry._read_entries()
                yield registry
                # Not in a finally: after an exception, the state in memory may be half done.
                if registry.dirty:
                    registry.save()
            finally:
                registry._locked = False
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    @classmethod
    def load(cls, path=DEFAULT_PATH, **options):
        """The registry as it is on disk, without the lock: for reports. It cannot be changed or saved."""
        registry = cls(path, **options)
        registry._entries = registry._read_entries()
        return registry

    def _lock(self, descriptor):
        if self.lock_timeout is None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            return
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if time.monotonic() >= deadline:
                raise RegistryError('the PN registry %s is locked by another process since more than %s s: '
                                    'find it with `fuser -v %s`' % (self.path, self.lock_timeout, self.lock_path))
            time.sleep(_LOCK_POLL)

    def _read_entries(self):
        data = _read(self.path)
        return {} if data is None else parse(data, self.path)

    def save(self):
        """Write the registry (atomic, durable). Only under the lock: an unlocked write could lose another
        writer's reservation."""
        self._require_lock()
        _files.write_atomic(self.path, dump(self._entries), FILE_MODE, sync_directory=True)
        self.dirty = False

    def _require_lock(self):
        if not self._locked:
            raise RegistryError('the PN registry %s is not open for writing: use PnRegistry.open()' % self.path)

    # -- reading ----------------------------------------------------------------------------------------------

    def entries(self):
        """Every entry, sorted by SCI and key (copies)."""
        return [dict(self._entries[name]) for name in sorted(self._entries)]

    def entry(self, sci, key):
        """The entry of an SCI and a key (a copy), or None."""
        found = self._entries.get((sci_hex(sci), key_fingerprint(key)))
        return None if found is None else dict(found)

    def headroom(self, sci, key, xpn=False):
        """How many PNs are left above the reservation: limit - reserved (`xpn` only counts for a key that is
        not in the registry, which has the whole range)."""
        found = self._entries.get((sci_hex(sci), key_fingerprint(key)))
        if found is None:
            return pn_limit(xpn)
        return max(0, pn_limit(found['xpn']) - found['reserved'])

    def margin_for(self, entry):
        """The PNs an SA may send before the next observation: `safety` times one interval at the measured
        rate, never less than `min_margin`."""
        rate = (entry or {}).get('rate') or 0
        return max(self.min_margin, int(math.ceil(self.safety * rate * self.interval)))

    # -- changes ----------------------------------------------------------------------------------------------

    def _now(self, now):
        return float(self.clock() if now is None else now)

    def _entry_for(self, sci, key, now, xpn, key_id, ifname):
        """The entry of (sci, key), created when unknown, with its informational fields updated."""
        return self._entry_named((sci_hex(sci), key_fingerprint(key)), now, xpn, key_id, ifname)

    def _entry_named(self, name, now, xpn, key_id, ifname):
        entry = self._entries.get(name)
        if entry is None:
            entry = {'sci': name[0], 'key': name[1], 'key_id': None, 'ifname': None, 'xpn': bool(xpn),
                     'reserved': 0, 'observed_pn': None, 'observed_at': None, 'rate': None,
                     'created_at': now, 'claimed_at': None, 'retired_at': None, 'reinstalled_at': None}
            self._entries[name] = entry
        if xpn is not None:
            entry['xpn'] = bool(xpn)
        if key_id is not None:
            entry['key_id'] = _key_id_hex(key_id)
        if ifname is not None:
            entry['ifname'] = str(ifname)
        return entry

    def _key_floor(self, key):
        # The highest reservation of this key on any SCI. With XPN the nonce holds the SSCI, not the SCI: the same
        # SAK and SSCI under a new SCI (a replaced NIC, a new MAC) would repeat nonces. Starting above every use
        # of the key is safe for both nonce forms and costs nothing when a key lives on one SCI, as here.
        fingerprint = key_fingerprint(key)
        return max((entry['reserved'] for (_sci, known), entry in self._entries.items() if known == fingerprint),
                   default=0)

    def claim(self, sci, key, desired_pn=1, xpn=False, key_id=None, ifname=None, now=None):
        """The PN to install a TX SA of this key on this SCI with; its reservation is saved before this returns.

        The PN is above every PN this key may have used (on any SCI), and at least `desired_pn`. The
        reservation covers the new SA's first `margin_for()` PNs, the most it may send before it is observed.
        PnExhaustedError when that does not fit below the PN limit.
        """
        self._require_lock()
        limit = pn_limit(xpn)
        _check_int(desired_pn, 'desired_pn', 1, limit)
        now = self._now(now)
        known = self._entries.get((sci_hex(sci), key_fingerprint(key)))
        start = max(desired_pn, self._key_floor(key) + 1)
        margin = self.margin_for(known)  # a known key keeps the rate it was last seen sending at
        if start + margin > limit:
            named = ('key id %s' % _key_id_hex(key_id) if key_id is not None
                     else 'key fingerprint %s' % key_fingerprint(key))
            raise PnExhaustedError(
                'the %d-bit packet numbers of %s on SCI %s are used up (next safe PN %d + margin %d > %d): rotate '
                'the link to a new key (bump its generation)%s'
                % (64 if xpn else 32, named, sci_hex(sci), start, margin, limit,
                   '' if xpn else ' or use an XPN cipher (gcm-aes-xpn-128/256)'))
        entry = self._entry_for(sci, key, now, xpn, key_id, ifname)
        if entry['retired_at'] is not None:
            entry['reinstalled_at'] = now  # retired_at stays: the history is the lead's to judge
        entry['reserved'] = max(entry['reserved'], start - 1 + margin)
        # The SA's next PN is `start` at install: measuring the next rate from here keeps the jump out of it.
        entry['observed_pn'] = start
        entry['observed_at'] = now
        entry['claimed_at'] = now
        self.dirty = True
        self.save()  # write-ahead: on disk before the caller installs the SA
        return start

    def observe(self, sci, key, next_pn, now=None, xpn=None, key_id=None, ifname=None):
        """Record the kernel's next PN of a TX SA; move the reservation past it by a margin.

        Returns {'reserved': new reservation, 'previous_reserved': old one or None, 'margin': PNs added,
        'rate': PN/s or None, 'created': True for an SA that was never claimed here, 'overrun': True when the SA
        had already used PNs past the old reservation (a crash then could have reused them; log it loudly),
        'overrun_by': how many}.
        """
        return self._observe_named((sci_hex(sci), key_fingerprint(key)), next_pn, now, xpn, key_id, ifname)

    def _observe_named(self, name, next_pn, now, xpn, key_id, ifname):
        self._require_lock()
        now = self._now(now)
        previous = self._entries.get(name)
        effective_xpn = previous['xpn'] if xpn is None and previous is not None else bool(xpn)
        limit = pn_limit(effective_xpn)
        _check_int(next_pn, 'next_pn', 0, limit + 1)
        if next_pn == 0:
            # The kernel's next PN wraps to 0 after it sent the last one (and stops the SA): all are used.
            next_pn = limit + 1
        previous_reserved = None if previous is None else previous['reserved']
        entry = self._entry_named(name, now, effective_xpn, key_id, ifname)
        if entry['observed_pn'] is not None and entry['observed_at'] is not None:
            elapsed = now - entry['observed_at']
            sent = next_pn - entry['observed_pn']
            if elapsed > 0 and sent >= 0:
                entry['rate'] = sent / elapsed
        entry['observed_pn'] = next_pn
        entry['observed_at'] = now
        margin = self.margin_for(entry)
        entry['reserved'] = min(limit, max(entry['reserved'], next_pn - 1 + margin))
        self.dirty = True
        overrun_by = 0 if previous_reserved is None else max(0, next_pn - 1 - previous_reserved)
        return {'reserved': entry['reserved'], 'previous_reserved': previous_reserved, 'margin': margin,
                'rate': entry['rate'], 'created': previous is None, 'overrun': overrun_by > 0,
                'overrun_by': overrun_by}

    def retire(self, sci, key, now=None):
        """Mark the SA of this key on this SCI as removed; the entry stays. False when it was unknown."""
        self._require_lock()
        found = self._entries.get((sci_hex(sci), key_fingerprint(key)))
        if found is None:
            return False
        found['retired_at'] = self._now(now)
        self.dirty = True
        return True

    # -- by key id: for SAs whose key this caller does not hold (a key being replaced, a key from before) -----

    def find_key_id(self, sci, key_id):
        """The entry (a copy) of the key with this kernel key id on this SCI, or None. When the same key id was
        given to several keys over time, the latest claimed one."""
        if sci is None or key_id is None:
            return None
        wanted_sci, wanted_id = sci_hex(sci), _key_id_hex(key_id)
        found = [entry for (entry_sci, dummy), entry in self._entries.items()
                 if entry_sci == wanted_sci and entry['key_id'] == wanted_id]
        if not found:
            return None
        return dict(max(found, key=lambda entry: (entry['claimed_at'] or 0, entry['created_at'] or 0)))

    def headroom_of(self, entry):
        """PNs left above an entry's reservation."""
        return max(0, pn_limit(entry['xpn']) - entry['reserved'])

    def observe_key_id(self, sci, key_id, next_pn, now=None, xpn=None, ifname=None):
        """observe() for an SA known only by its key id: updates the entry of that key if the registry has one
        (an SA this host never claimed cannot be claimed again either, so there is nothing to protect)."""
        self._require_lock()
        found = self.find_key_id(sci, key_id)
        if found is None:
            return None
        return self._observe_named((found['sci'], found['key']), next_pn, now, xpn, None, ifname)

    def retire_key_id(self, sci, key_id, next_pn=None, now=None):
        """Record an SA's last next PN (when given) and mark its key retired; by key id. False when unknown."""
        self._require_lock()
        found = self.find_key_id(sci, key_id)
        if found is None:
            return False
        if next_pn is not None:
            self._observe_named((found['sci'], found['key']), next_pn, now, None, None, None)
        entry = self._entries[(found['sci'], found['key'])]
        entry['retired_at'] = self._now(now)
        self.dirty = True
        return True


file_mode = _files.file_mode  # for reports and tests


@contextlib.contextmanager
def no_registry():
    """Stands in for PnRegistry.open() where nothing may be recorded (check mode): yields None."""
    yield None
