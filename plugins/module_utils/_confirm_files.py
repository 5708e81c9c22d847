# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Commit-confirmed changes of a daemon's configuration: the MKA ports and the swanctl files of strongSwan's links
(docs/lockout.md).

wpa_supplicant owns the SAs of an MKA port, so what a rollback restores is the configuration the daemon ran with
before, and a restart of its unit. strongSwan's charon keeps running (it may carry other connections): a link's
rollback restores its swanctl file, loads the files, ends the link's IKE SAs and initiates again (the `ike` part of
the record; IKE makes new ESP keys for every CHILD_SA, so no key is installed again either). The steps mirror
_confirm's for kernel SecYs, with the same pending directory, lock, timer unit (`l2sec-rollback-<port>`) and
rollback record:

1. `arm()` (macsec_secret_file with confirm_timeout), before the new file is written: the pending record of the
   port keeps the file as it is (or that it did not exist) and the units to restart, and a transient timer is
   armed to run the host agent's `rollback`. The kept file holds the CAK: it stays in /run (tmpfs, never on disk),
   0600 in a 0700 directory, like the file itself.
2. The role restarts the daemon, and checks the port at every end of the link (macsec_health: MKA secured, SAs
   active, protected frames crossing to each peer).
3. `commit()` (macsec_confirm state=commit), only where the controller saw every end healthy: the timer stops and
   the record goes. Without it the timer runs `rollback()`: the files as they were (removed when they are new),
   then the units restarted (stopped and disabled when the port is new).

Key lifecycle: a rollback installs no SAK again. The key server draws a new random SAK each time MKA secures, so
the restored CAK brings a new SAK whose PNs start from 1. Going back to the CAK of before is allowed: it was not
retired (only teardown and rotation retire a generation, docs/topology.md).
Standard library and the collection's module_utils only: the host agent runs `rollback()`.
"""

from __future__ import annotations

import base64
import json
import os
import time

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _files
from ansible_collections.l2sec.macsec.plugins.module_utils import _ike_health

KIND = 'files'


def read(pending_dir, name):
    """The pending configuration change of port `name` ({files: {path: {previous, mode}}, units, ...}), or None
    when nothing is pending or what is pending is a kernel SecY's change."""
    try:
        with open(_confirm.pending_path(pending_dir, name), encoding='utf-8') as handle:
            data = json.load(handle)
    except (FileNotFoundError, ValueError):
        return None
    if not isinstance(data, dict) or data.get('kind') != KIND or not isinstance(data.get('files'), dict):
        return None
    return data


def _kept(path):
    """The file at `path` as a rollback restores it: its bytes (base64) and mode, or None when it does not exist."""
    data = _files.read_bytes(path)
    if data is None:
        return {'previous': None, 'mode': None}
    return {'previous': base64.b64encode(data).decode('ascii'), 'mode': _files.file_mode(path)}


def arm(pending_dir, name, path, units, timeout, run, agent=_confirm.AGENT, ike=None):
    """Before `path` changes: keep it as it is, with the `units` a rollback restarts (or the IKE connections `ike`
    {connections, initiate} it loads again), as the pending change `name` (a port, or `ike-LINK`), and arm the timer
    that rolls it back in `timeout` seconds. A change of the port that is still pending
    keeps what it kept: a rollback goes back to the state before the first change that nobody confirmed.
    `run(argv)` returns (rc, stdout, stderr). Returns the timer's unit name; raises ConfirmError."""
    with _confirm.Lock(pending_dir, name):  # which makes the pending directory
        record_path = _confirm.pending_path(pending_dir, name)
        earlier = _files.read_bytes(record_path)
        record = read(pending_dir, name)
        if earlier is not None and record is None:
            raise _confirm.ConfirmError(
                '%s: %s is a pending change of a kernel SecY, not of an MKA port: confirm or roll it back first '
                '(l2sec-macsec-agent rollback %s)' % (name, record_path, name))
        record = record or {'version': _confirm.PENDING_VERSION, 'kind': KIND, 'files': {}, 'units': []}
        record['files'].setdefault(path, _kept(path))
        record['units'] = sorted(set(record['units']) | set(units))
        if ike:
            kept_ike = record.setdefault('ike', {'connections': [], 'initiate': []})
            for key in ('connections', 'initiate'):
                kept_ike[key] = sorted(set(kept_ike[key]) | set(ike.get(key) or ()))
        record.update(armed=int(time.time()), timeout=timeout)
        return _confirm.keep_and_arm(pending_dir, name, record, earlier, timeout, run, agent)


def commit(pending_dir, name, run, check_mode=False):
    """Make the pending change of port `name` final: stop its timer, forget what it kept. Returns {committed,
    changes, rolled_back (the rollback's record, when the timer came first)}."""
    result = {'committed': False, 'changes': [], 'rolled_back': None}
    with _confirm.Lock(pending_dir, name):
        if read(pending_dir, name) is None:
            result['rolled_back'] = _confirm.read_rolled_back(pending_dir, name)
            return result
        result['committed'] = True
        result['changes'] = ['stop the rollback timer', 'forget the configuration kept for a rollback']
        if not check_mode:
            _confirm.disarm(name, run)
            os.unlink(_confirm.pending_path(pending_dir, name))
    return result


def _restore(path, kept):
    if kept['previous'] is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return 'no %s (there was none before the change)' % path
        return 'remove %s (there was none before the change)' % path
    _files.write_atomic(path, base64.b64decode(kept['previous']), kept['mode'] or 0o600)
    return 'restore %s' % path


def _reload_ike(ike, new, run):
    """strongSwan after its files were restored: load them (charon keeps running: it may carry other connections),
    end the IKE SAs that the change made, and initiate again from the end that initiates (the other end's traps
    bring the SA up at the first packet too). Returns what it did."""
    def step(argv, failed='FAILED'):
        rc, dummy, err = run(argv)
        return ' '.join(argv) + ('' if rc == 0 else ' %s: %s' % (failed, _ike_health.swanctl_error(err) or 'rc %d' % rc))
    done = [step(['swanctl', '--load-all', '--noprompt'])]
    done += [step(['swanctl', '--terminate', '--ike', conn, '--force', '--timeout', '5'], failed='(none)')
             for conn in ike['connections']]
    if not new:
        done += [step(['swanctl', '--initiate', '--child', conn, '--timeout', '20']) for conn in ike['initiate']]
    return done


def rollback(pending_dir, name, run, reason='timer'):
    """Take port `name` back to the configuration it had before its pending change, restart (or, when the port is
    new, stop) its units, and drop the change. Returns the rollback's record, or None when nothing was pending."""
    with _confirm.Lock(pending_dir, name):
        record = read(pending_dir, name)
        if record is None:
            return None
        changes = [_restore(path, kept) for path, kept in sorted(record['files'].items())]
        new = all(kept['previous'] is None for kept in record['files'].values())
        for unit in record['units']:
            argv = ['systemctl', 'disable', '--now', unit] if new else ['systemctl', 'restart', unit]
            rc, dummy, err = run(argv)
            changes.append(' '.join(argv[1:]) + ('' if rc == 0 else ' FAILED: %s' % err.strip()))
        if record.get('ike'):
            changes.extend(_reload_ike(record['ike'], new, run))
        restored = 'nothing: it did not exist before the change' if new else 'the previous configuration'
        return _confirm.finish_rollback(pending_dir, name, reason, restored, changes)
