# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Commit-confirmed changes of a kernel SecY (docs/lockout.md).

A change that may cut the path the controller uses to reach a host must undo itself when nobody confirms it. For
a SecY with static keys that takes three steps:

1. `arm()` (macsec_secy with confirm_timeout): the desired state is kept in a pending file under /run (0600, never
   on disk), a transient systemd timer is armed to run the host agent's `rollback`, and only then is the SecY
   changed, to the desired state **plus the SAs it had** (`keep_previous()`): the new key goes on its own AN and
   the encoding SA switches to it, the old SAs stay installed. The boot state file is not touched: it still
   describes the confirmed state, so a reboot before the commit also rolls back.
2. `probe()` (macsec_confirm state=probe) on every end of the link at once: frames are sent through the SecY, and
   each end reports whether its RX SAs of the desired state received protected frames from every peer.
3. `commit()` (macsec_confirm state=commit), only where the controller saw every end of a link receive: the timer
   is stopped, the old SAs are removed, the boot state file is written. Without it the timer runs `rollback()`:
   the SecY converges back to its boot state (the old SAs never left, so no key is installed again), or is
   removed when it had none; the SAs the change added go, their PNs recorded.

Standard library, pyroute2 and the collection's module_utils only: the host agent runs `rollback()` too.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import socket
import time

from ansible_collections.l2sec.macsec.plugins.module_utils import _files
from ansible_collections.l2sec.macsec.plugins.module_utils import _secy

PENDING_DIR = '/run/l2sec-macsec/pending'
PENDING_DIR_MODE = 0o700
PENDING_FILE_MODE = 0o600
PENDING_VERSION = 1
UNIT_PREFIX = 'l2sec-rollback-'
AGENT = '/usr/lib/l2sec-macsec/l2sec-macsec-agent'  # _agent.LAUNCHER (a unit test keeps the two equal)
# IEEE 802 "local experimental" EtherType: a probe is dropped by the receiving stack after the SecY counted it.
PROBE_ETHERTYPE = 0x88b5
PROBE_PAYLOAD = b'l2sec.macsec confirm probe'.ljust(46, b'\0')
PROBE_INTERVAL = 0.5


class ConfirmError(Exception):
    pass


def unit_name(name):
    """The transient unit of a SecY's rollback. Interface names are 1-15 characters without / : or blanks; other
    characters systemd does not take in a unit name are escaped as it would (\\xNN)."""
    escaped = ''.join(char if char.isalnum() or char in '_.-' else '\\x%02x' % ord(char) for char in name)
    return UNIT_PREFIX + escaped


def pending_path(pending_dir, name):
    return os.path.join(pending_dir, name + '.json')


def rolled_back_path(pending_dir, name):
    return os.path.join(pending_dir, name + '.rolled-back')


class Lock:
    """One change of a SecY's pending state at a time: a commit and the rollback timer may meet."""

    def __init__(self, pending_dir, name):
        self.path = os.path.join(pending_dir, name + '.lock')
        self.handle = None

    def __enter__(self):
        _files.ensure_directory(os.path.dirname(self.path), PENDING_DIR_MODE)
        self.handle = open(self.path, 'a', encoding='utf-8')  # pylint: disable=consider-using-with
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


# ---------------------------------------------------------------------------------------------------------------
# The desired state while the change is pending
# ---------------------------------------------------------------------------------------------------------------

def _kept_sa(sa):
    """An installed SA as a spec entry. It has no key (the kernel never returns one): plan() leaves an SA whose key
    id it finds installed alone, and record_tx_pns() records it by key id."""
    kept = {'an': sa['an'], 'key': None, 'key_id': sa.get('keyid'), 'pn': 1, 'active': sa['active']}
    if sa.get('ssci') is not None:
        kept['ssci'] = sa['ssci']
    return kept


def _merge_sas(name, label, wanted, installed):
    for an, sa in installed.items():
        want = wanted.get(an)
        if want is None:
            wanted[an] = _kept_sa(sa)
        elif want['key_id'] != sa.get('keyid'):
            raise ConfirmError(
                '%s: %s AN %d would get another key (key id %s -> %s) in place, so the previous SA could not stay '
                'installed until the change is confirmed: raise the link\'s generation (a new key takes the next '
                'AN), or set confirm_timeout to 0' % (name, label, an, sa.get('keyid'), want['key_id']))


def keep_previous(spec, current):
    """`spec` plus the SAs and RX SCs `current` has and `spec` does not, unchanged. Raises ConfirmError when the
    spec puts another key on an AN in use (the old SA could not stay)."""
    if current is None or spec['mka'] or current['parent'] != spec['parent'] or any(
            current['link'].get(option) != spec['link'][option] for option in _secy.RECREATE_OPTIONS):
        return spec  # new, or made again (the old SAs go with the old link: no key to install them again)
    kept = copy.deepcopy(spec)
    _merge_sas(spec['name'], 'TX SA', kept['tx_sas'], current['tx_sas'])
    for sci, have in current['rx_scs'].items():
        want = kept['rx_scs'].setdefault(sci, {'sci': sci, 'active': have['active'], 'sas': {}})
        _merge_sas(spec['name'], 'RX SA of %s' % sci, want['sas'], have['sas'])
    return kept


# ---------------------------------------------------------------------------------------------------------------
# Arm, commit, roll back
# ---------------------------------------------------------------------------------------------------------------

def hold_encoding_sa(applied, current):
    """Keep `applied` (keep_previous()) sending with the encoding SA `current` has, when the change moves it to
    another AN and the SA of before stays installed: the new SAs are then in place at this end while its peers still
    hear the old key, and the probe or the commit moves the encoding SA once every end made its change (hitless).
    Returns the AN held, or None."""
    if current is None or applied['mka']:
        return None
    have = current['link'].get('encoding_sa')
    if have is None or have == applied['link']['encoding_sa'] or have not in applied['tx_sas']:
        return None  # nothing moves, or the SA of before does not stay
    applied['link']['encoding_sa'] = have
    return have


def move_encoding_sa(pending_spec, current):
    """The state that moves a held encoding SA (hold_encoding_sa()) to the pending change's: the pending spec with
    the SAs of before still installed. None when nothing is held (no SecY, or its encoding SA is already the one)."""
    if current is None or current['link'].get('encoding_sa') == pending_spec['link']['encoding_sa']:
        return None
    if pending_spec['link']['encoding_sa'] not in current['tx_sas']:
        return None  # the new TX SA is not installed: not a held change (a rollback or a hand change is in the way)
    return keep_previous(pending_spec, current)


def previous_record(current):
    """What rollback needs of the SecY before the change, without keys (the SAs stay installed): its link
    options, MTU, addresses and SAs by key id. None for a SecY that did not exist."""
    if current is None:
        return None

    def sas(installed):
        return {str(an): {'key_id': sa.get('keyid'), 'active': sa['active'], 'ssci': sa.get('ssci')}
                for an, sa in installed.items()}
    return {
        'link': {option: current['link'].get(option) for option in _secy.RECREATE_OPTIONS
                 + _secy.IN_PLACE_OPTIONS + ('encoding_sa',)},
        'mtu': current['mtu'], 'addresses': current['addresses'], 'tx_sas': sas(current['tx_sas']),
        'rx_scs': {sci: {'active': sc['active'], 'sas': sas(sc['sas'])} for sci, sc in current['rx_scs'].items()},
    }


def _record_sas(record):
    return {int(an): _kept_sa(dict(sa, an=int(an), keyid=sa['key_id'])) for an, sa in record.items()}


def restore_spec(pending_spec, previous, state):
    """The spec that takes the SecY back to `previous` (previous_record()) with the SAs it still has, or None when
    that is no longer possible: the link was recreated (another cipher or port), or one of its SAs is gone."""
    if state is None or any(state['link'].get(option) != previous['link'][option]
                            for option in _secy.RECREATE_OPTIONS):
        return None
    installed = {(None, an): sa.get('keyid') for an, sa in state['tx_sas'].items()}
    for sci, sc in state['rx_scs'].items():
        installed.update({(sci, an): sa.get('keyid') for an, sa in sc['sas'].items()})
    wanted = {(None, int(an)): sa['key_id'] for an, sa in previous['tx_sas'].items()}
    for sci, sc in previous['rx_scs'].items():
        wanted.update({(sci, int(an)): sa['key_id'] for an, sa in sc['sas'].items()})
    if any(installed.get(where) != key_id for where, key_id in wanted.items()):
        return None
    spec = copy.deepcopy(pending_spec)
    spec['link'].update({option: value for option, value in previous['link'].items() if value is not None})
    spec['mtu'], spec['addresses'] = previous['mtu'], previous['addresses']
    spec['tx_sas'] = _record_sas(previous['tx_sas'])
    spec['rx_scs'] = {sci: {'sci': sci, 'active': sc['active'], 'sas': _record_sas(sc['sas'])}
                      for sci, sc in previous['rx_scs'].items()}
    return spec


def read_pending(pending_dir, name, default_key_id):
    """The pending change of SecY `name` ({spec (with keys), previous, baseline, state_dir, ...}), or None."""
    path = pending_path(pending_dir, name)
    try:
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get('kind') == 'files':
        raise ConfirmError('%s: the change pending in %s is of an MKA port\'s configuration, not of a kernel SecY'
                           % (name, path))
    if not isinstance(data, dict) or data.get('version') != PENDING_VERSION or not isinstance(data.get('secy'), dict):
        raise ConfirmError('%s: %s is not a pending change of this collection' % (name, path))
    return dict(data, spec=_secy.normalize_spec(data['secy'], default_key_id))


def disarm(name, run):
    """Stop the rollback timer of SecY `name`, if one is armed (and forget a failed run of it). `run(argv)` returns
    (rc, stdout, stderr), as AnsibleModule.run_command does."""
    unit = unit_name(name)
    run(['systemctl', 'stop', unit + '.timer'])
    run(['systemctl', 'reset-failed', unit + '.timer', unit + '.service'])


def arm(pending_dir, spec, current, timeout, run, state_dir=None, pn_registry=None, agent=AGENT):
    """Keep `spec` as the pending change of its SecY, with what rollback needs of `current` (the state before) and
    the RX counters the probe counts from, and arm the timer that rolls it back in `timeout` seconds. `state_dir`:
    where commit writes the boot state (None: no boot state). Returns the timer's unit name."""
    name = spec['name']
    # Under the lock (which makes the directory): a timer of an earlier change that fires now must not roll back
    # half of this one's files.
    with Lock(pending_dir, name):
        earlier = _files.read_bytes(pending_path(pending_dir, name))
        previous = previous_record(current)
        try:
            # A change still pending is not what a rollback goes back to: the state before it is.
            previous = json.loads(earlier)['previous']
        except (TypeError, ValueError, KeyError):
            pass
        data = {'version': PENDING_VERSION, 'secy': _secy.spec_to_params(spec), 'armed': int(time.time()),
                'timeout': timeout, 'previous': previous, 'baseline': baseline(spec, current),
                'state_dir': state_dir}
        return keep_and_arm(pending_dir, name, data, earlier, timeout, run, agent,
                            ['--pn-registry', pn_registry] if pn_registry else [])


def keep_and_arm(pending_dir, name, data, earlier, timeout, run, agent=AGENT, options=()):
    """Under the lock of `name`: keep `data` as its pending change (in place of `earlier`, the bytes of the one
    before, or None), forget its last rollback, and arm the transient timer that runs the host agent's `rollback`
    of `name` in `timeout` seconds, in place of a timer of an earlier change that nobody confirmed. Without a timer
    the new change goes again. Returns the timer's unit name; raises ConfirmError."""
    text = json.dumps(data, indent=1, sort_keys=True) + '\n'
    _files.write_atomic(pending_path(pending_dir, name), text.encode('utf-8'), PENDING_FILE_MODE)
    try:
        os.unlink(rolled_back_path(pending_dir, name))
    except FileNotFoundError:
        pass
    disarm(name, run)
    unit = unit_name(name)
    argv = (['systemd-run', '--unit=' + unit, '--on-active=%ds' % timeout, '--timer-property=AccuracySec=1s',
             '--description=l2sec.macsec: roll %s back unless its change is confirmed' % name,
             '/usr/bin/python3', agent, 'rollback', '--reason', 'timer', '--pending-dir', pending_dir]
            + list(options) + [name])
    try:
        rc, dummy, err = run(argv)
    except BaseException:
        # run_command may also end the module (fail_json) when systemd-run cannot start.
        _forget_new_change(pending_dir, name, earlier)
        raise
    if rc != 0:
        _forget_new_change(pending_dir, name, earlier)
        raise ConfirmError('%s: cannot arm the rollback timer (systemd-run): %s' % (name, err.strip()))
    return unit + '.timer'


def _forget_new_change(pending_dir, name, earlier):
    """No pending change without a timer for it: the new one goes. An earlier change that was still pending keeps
    its record (its own timer is stopped: the kernel still holds it, and `rollback NAME` or a commit needs it)."""
    if earlier is None:
        os.unlink(pending_path(pending_dir, name))
    else:
        _files.write_atomic(pending_path(pending_dir, name), earlier, PENDING_FILE_MODE)


def commit(pending_dir, name, ipr, genl, registry, default_key_id, run, check_mode=False):
    """Make the pending change of SecY `name` final: stop its timer, remove the SAs it kept, write its boot state.
    Returns {committed, changes, rolled_back (the rollback's record, when the timer came first)}."""
    result = {'committed': False, 'changes': [], 'rolled_back': None}
    with Lock(pending_dir, name):
        pending = read_pending(pending_dir, name, default_key_id)
        if pending is None:
            result['rolled_back'] = read_rolled_back(pending_dir, name)
            return result
        result['committed'] = True
        if check_mode:
            result['changes'] = ['stop the rollback timer', 'remove the SAs kept until the confirmation']
            return result
        disarm(name, run)
        converged = _secy.converge(pending['spec'], ipr, genl, registry)
        result['changes'] = ['stop the rollback timer'] + converged['changes']
        if pending.get('state_dir') and _secy.write_boot_state(pending['state_dir'], pending['spec']):
            result['changes'].append('write the boot state file')
        os.unlink(pending_path(pending_dir, name))
    return result


def read_rolled_back(pending_dir, name):
    """The record of the last rollback of SecY `name` since its last change ({at, reason, restored, changes})."""
    try:
        with open(rolled_back_path(pending_dir, name), encoding='utf-8') as handle:
            return json.load(handle)
    except (FileNotFoundError, ValueError):
        return None


def _boot_state(state_dir, name, default_key_id):
    """The boot state of SecY `name`, or None when it has none (or an unreadable one)."""
    if not state_dir:
        return None
    try:
        return _secy.read_boot_state(_secy.state_file(state_dir, name), default_key_id)
    except (FileNotFoundError, ValueError):
        return None


def rollback(pending_dir, name, ipr, genl, registry, default_key_id, reason='timer'):
    """Take SecY `name` back to where it was before its pending change, and drop the change. The previous SAs are
    still installed: the encoding SA goes back to its old AN and the SAs the change added are deleted (their PNs
    recorded). A link the change recreated goes back to its boot state; one it added is removed. Returns the
    rollback's record, or None when nothing was pending."""
    with Lock(pending_dir, name):
        pending = read_pending(pending_dir, name, default_key_id)
        if pending is None:
            return None
        state = _secy.read_state(ipr, genl, name)
        _secy.record_tx_pns(registry, state, pending['spec'])
        if pending['previous'] is None:
            restored, target = 'removed (it did not exist before the change)', None
        else:
            target = restore_spec(pending['spec'], pending['previous'], state)
            restored = 'the previous SAs and options'
            if target is None:
                target = _boot_state(pending.get('state_dir'), name, default_key_id)
                restored = 'the boot state (the change had recreated the link)'
        if pending['previous'] is not None and target is None:
            changes = []
            restored = 'nothing: the link was recreated and has no boot state to go back to'
        elif target is None:
            tunnel = pending['spec']['parent'] if pending['spec']['tunnel'] else None
            changes = _secy.remove(name, ipr, genl, registry, tunnel=tunnel)['changes']
        else:
            changes = _secy.converge(target, ipr, genl, registry)['changes']
        record = finish_rollback(pending_dir, name, reason, restored, changes)
    return record


def finish_rollback(pending_dir, name, reason, restored, changes):
    """Under the lock of `name`: keep the record of its rollback (what `status` and a late commit report) in place
    of its pending change. Returns the record."""
    record = {'at': int(time.time()), 'reason': reason, 'restored': restored, 'changes': changes}
    _files.write_atomic(rolled_back_path(pending_dir, name), json.dumps(record).encode('utf-8'), PENDING_FILE_MODE)
    os.unlink(pending_path(pending_dir, name))
    return record


# ---------------------------------------------------------------------------------------------------------------
# Probe: did protected frames cross, in both directions?
# ---------------------------------------------------------------------------------------------------------------

def _expected_rx(spec, state):
    """{sci: an} of the RX SAs that must receive: the desired state's active SA of each RX SC (a pending change's
    new key), else the SA the kernel has active."""
    expected = {}
    scs = spec['rx_scs'] if spec is not None else (state or {}).get('rx_scs', {})
    for sci, sc in scs.items():
        active = sorted(an for an, sa in sc['sas'].items() if sa['active'])
        if active:
            expected[sci] = active[-1] if spec is None else _newest_an(spec, sci, active)
    return expected


def _newest_an(spec, sci, active):
    """The AN of the RX SA that pairs with the desired encoding SA: the peers' new key goes on the same AN as ours
    (the generation picks it), so prefer that one."""
    encoding = spec['link']['encoding_sa']
    return encoding if encoding in active else active[-1]


def _in_pkts_ok(state, sci, an):
    sa = state['rx_scs'].get(sci, {}).get('sas', {}).get(an)
    if sa is None:
        return None
    return (sa.get('stats') or {}).get('in_pkts_ok', 0)


def send_probe(ifname, mac):
    """One broadcast frame through the SecY: it leaves encrypted with the encoding SA."""
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((ifname, 0))
        sock.send(b'\xff' * 6 + bytes.fromhex(mac.replace(':', '')) + PROBE_ETHERTYPE.to_bytes(2, 'big')
                  + PROBE_PAYLOAD)


def baseline(spec, state):
    """{sci: [an, InPktsOK]} of the RX SAs that must receive, as they are before a change: a new SA counts from 0."""
    return {sci: [an, _in_pkts_ok(state, sci, an) or 0] if state is not None else [an, 0]
            for sci, an in _expected_rx(spec, state).items()}


def probe(names, read, pending, timeout, linger=5.0, send=send_probe, clock=time.monotonic, sleep=time.sleep):
    """Send probes through each SecY of `names` until its expected RX SAs counted a frame from every peer, or
    `timeout` seconds. `read(name)` returns (state, mac); `pending` maps a name to its pending data (spec and the
    counters when it was armed: frames a peer sent before this probe started count too). A SecY keeps sending for
    `linger` seconds after it heard all its peers: they may have started later. Returns {name: {pending, peers:
    {sci: {an, received, ok}}, ok}}."""
    deadline = clock() + timeout
    counting_from = {}
    for name in names:
        if name in pending and pending[name].get('baseline') is not None:
            counting_from[name] = pending[name]['baseline']
        else:
            state, dummy = read(name)
            counting_from[name] = baseline(None, state)
    results = {}
    heard_all_at = None
    while True:
        for name in names:
            state, mac = read(name)
            peers = {}
            for sci, (an, before) in sorted(counting_from[name].items()):
                now = None if state is None else _in_pkts_ok(state, sci, an)
                received = None if now is None else max(now - before, 0)
                peers[sci] = {'an': an, 'received': received, 'ok': bool(received)}
            results[name] = {'pending': name in pending, 'peers': peers, 'interface': state is not None,
                             'ok': bool(peers) and all(peer['ok'] for peer in peers.values())}
            if state is not None:
                send(name, mac)
        now = clock()
        if all(result['ok'] for result in results.values()):
            heard_all_at = now if heard_all_at is None else heard_all_at
            if now - heard_all_at >= linger:
                return results
        if now >= deadline:
            return results
        sleep(PROBE_INTERVAL)
