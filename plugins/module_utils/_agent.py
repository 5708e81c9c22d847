# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host agent of the kernel provider: restore SecYs at boot, keep the PN registry current.

Static keys outlive the kernel's state: after a reboot the SecYs are gone, and whoever puts them back must not
restart the packet numbers of a key that already sent frames. The macsec_agent module installs this file (with
the collection's own `_netlink_macsec`, `_secy` and `_pn_registry`, the same code the modules run) under
/usr/lib/l2sec-macsec, and three systemd units that call it:

- `restore` at boot (l2sec-macsec.service): converge every SecY of the boot state files, each TX SA starting
  above its key's reservation in the registry;
- `persist` on a timer (l2sec-macsec-persist.timer) and at shutdown (the ExecStop of l2sec-macsec.service):
  read every TX SA's next PN and move the reservations ahead of it.

Between two `persist` runs a SecY may send up to the reservation's margin; a crash loses nothing as long as it
sent less (the registry detects and reports when traffic outran it). Standard library, pyroute2 and this
collection's module_utils only: no Ansible on the host.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from ansible_collections.l2sec.macsec.plugins.module_utils import _pn_registry

# _secy (and through it _netlink_macsec and pyroute2, about 0.3 s of imports) is imported only when there is
# something to do: the timer runs every `interval` seconds, mostly to find nothing (macsec_link_names()).
STATE_DIR = '/etc/l2sec-macsec/kernel'  # _secy.STATE_DIR (a unit test keeps the two equal)

INSTALL_DIR = '/usr/lib/l2sec-macsec'
LAUNCHER = INSTALL_DIR + '/l2sec-macsec-agent'
# The module_utils the agent needs on the host, in the package layout the imports expect.
BUNDLE = ('_agent', '_confirm', '_confirm_files', '_files', '_ike_health', '_netlink_macsec', '_parents', '_pn_registry', '_secy')
BUNDLE_PACKAGE = 'ansible_collections/l2sec/macsec/plugins/module_utils'
UNIT_DIR = '/etc/systemd/system'
SERVICE = 'l2sec-macsec.service'
PERSIST_SERVICE = 'l2sec-macsec-persist.service'
PERSIST_TIMER = 'l2sec-macsec-persist.timer'
MODULES_LOAD = '/etc/modules-load.d/l2sec-macsec.conf'
DEFAULT_INTERVAL = 30
PARENT_WAIT = 60  # seconds to wait at boot for a parent NIC that udev has not brought yet

# The launcher is the agent's entry point on the host, as AnsibleModule is a module's: it gives the agent the one
# thing module_utils may not do themselves, running a command (the rollback of an MKA port restarts its unit).
LAUNCHER_TEXT = '''#!/usr/bin/python3
# Installed by l2sec.macsec.macsec_agent: the host agent of l2sec.macsec (restore, persist, rollback).
import subprocess
import sys

sys.path.insert(0, %r)
from ansible_collections.l2sec.macsec.plugins.module_utils import _agent  # noqa: E402


def run(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return 1, '', str(exc)
    return done.returncode, done.stdout, done.stderr


sys.exit(_agent.main(sys.argv[1:], run=run))
''' % INSTALL_DIR


def unit_texts(interval=DEFAULT_INTERVAL, pn_margin=_pn_registry.DEFAULT_MIN_MARGIN):
    """The systemd units, by file name."""
    options = '--interval %d --pn-margin %d' % (interval, pn_margin)
    return {
        SERVICE: '''# Installed by l2sec.macsec.macsec_agent
[Unit]
Description=l2sec.macsec: restore kernel MACsec SecYs above their PN high-water marks
Documentation=https://github.com/l2sec/macsec/blob/main/docs/kernel.md
DefaultDependencies=no
After=local-fs.target systemd-modules-load.service systemd-udevd.service systemd-sysctl.service
Before=network-pre.target shutdown.target
Wants=network-pre.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/bin/python3 %(launcher)s restore %(options)s
ExecStop=/usr/bin/python3 %(launcher)s persist --reason shutdown %(options)s
TimeoutStartSec=180

[Install]
WantedBy=multi-user.target
''' % {'launcher': LAUNCHER, 'options': options},
        PERSIST_SERVICE: '''# Installed by l2sec.macsec.macsec_agent
[Unit]
Description=l2sec.macsec: record the PN high-water marks of the kernel MACsec TX SAs
After=%(service)s

[Service]
Type=oneshot
ExecStart=/usr/bin/python3 %(launcher)s persist --reason timer %(options)s
''' % {'launcher': LAUNCHER, 'options': options, 'service': SERVICE},
        PERSIST_TIMER: '''# Installed by l2sec.macsec.macsec_agent
[Unit]
Description=l2sec.macsec: record the PN high-water marks every %(interval)d s

[Timer]
OnActiveSec=%(interval)ds
OnUnitActiveSec=%(interval)ds
AccuracySec=1s

[Install]
WantedBy=timers.target
''' % {'interval': interval},
    }


def _no_key_id(key):
    raise ValueError('a boot state file has a TX or RX SA without key_id: rewrite it with the macsec_secy module')


def _log(message):
    # The journal's line of the unit (stdout; a module_utils file has no module to log through).
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def macsec_link_names(sys_net='/sys/class/net'):
    """The macsec interfaces, read from sysfs (cheap: no pyroute2 import)."""
    try:
        names = os.listdir(sys_net)
    except OSError:
        return []
    found = []
    for name in sorted(names):
        try:
            with open(os.path.join(sys_net, name, 'uevent'), encoding='ascii', errors='replace') as handle:
                if 'DEVTYPE=macsec' in handle.read():
                    found.append(name)
        except OSError:
            continue
    return found


def mka_port_names(state_dir):
    """The SecYs whose boot state says an MKA daemon owns their SAs: they have no PN of ours to record. Read as
    plain JSON (cheap: no pyroute2 import); an unreadable file counts as not MKA, so it is looked at."""
    found = set()
    try:
        names = os.listdir(state_dir)
    except OSError:
        return found
    for name in names:
        if not name.endswith('.json'):
            continue
        try:
            with open(os.path.join(state_dir, name), encoding='utf-8') as handle:
                secy = json.load(handle).get('secy') or {}
        except (OSError, ValueError, AttributeError):
            continue
        if secy.get('mka') is True and isinstance(secy.get('name'), str):
            found.add(secy['name'])
    return found


def _wait_for_parent(parent, deadline):
    while not os.path.exists(os.path.join('/sys/class/net', parent)):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def has_boot_states(state_dir):
    """Whether the state directory holds any boot state file (cheap: no pyroute2 import)."""
    try:
        return any(name.endswith('.json') for name in os.listdir(state_dir))
    except OSError:
        return False


def restore(args):
    """Converge every SecY of the boot state files. Returns the number of SecYs that failed."""
    if not has_boot_states(args.state_dir):
        _log('no boot state in %s: nothing to restore' % args.state_dir)
        return 0
    from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
    from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
    states = _secy.read_boot_states(args.state_dir, _no_key_id)
    failed = 0
    deadline = time.monotonic() + PARENT_WAIT
    with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
        with _pn_registry.PnRegistry.open(args.pn_registry, min_margin=args.pn_margin,
                                          interval=args.interval) as registry:
            for path, spec in states:
                if isinstance(spec, Exception):
                    _log('%s: unreadable, skipped: %s' % (path, spec))
                    failed += 1
                    continue
                # A tunnel parent is made by converge() itself; a NIC may still be on its way from udev.
                if not spec['tunnel'] and not _wait_for_parent(spec['parent'], deadline):
                    _log('%s: the parent %s did not appear within %d s' % (spec['name'], spec['parent'], PARENT_WAIT))
                    failed += 1
                    continue
                try:
                    result = _secy.converge(spec, ipr, genl, registry)
                except (_secy.SecyError, nl.MacsecError, nl.NetlinkError, ValueError, OSError) as exc:
                    _log('%s: restore failed: %s' % (spec['name'], exc))
                    failed += 1
                    continue
                for warning in result['warnings']:
                    _log('%s: WARNING %s' % (spec['name'], warning))
                _log('%s: %s; TX SAs start at PN %s' % (
                    spec['name'], '; '.join(result['changes']) or 'already in place',
                    ', '.join('AN %s: %s' % item for item in sorted(result['start_pns'].items())) or '-'))
    return failed


def persist(args):
    """Move the registry's reservations ahead of every TX SA's next PN."""
    # Every few seconds on every host: return before the 2 s import of pyroute2 when no SecY has SAs of ours (none
    # at all, or only MKA ports, whose daemon keys them).
    if not set(macsec_link_names()) - mka_port_names(args.state_dir):
        return 0
    from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
    from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
    specs = {spec['name']: spec for dummy, spec in _secy.read_boot_states(args.state_dir, _no_key_id)
             if not isinstance(spec, Exception)}
    failed = 0
    with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
        names = _secy.macsec_link_names(ipr)
        try:
            secys = genl.dump()  # one dump for every SecY of the host
        except (nl.MacsecError, nl.NetlinkError) as exc:
            for name in names:
                _log('%s: cannot read its TX SAs (%s): %s' % (name, args.reason, exc))
            return 1
        with _pn_registry.PnRegistry.open(args.pn_registry, min_margin=args.pn_margin,
                                          interval=args.interval) as registry:
            for name in names:
                # One SecY that cannot be read (deleted meanwhile) must not cost the others their record.
                try:
                    state = _secy.read_state(ipr, genl, name, secys)
                except (_secy.SecyError, nl.MacsecError, nl.NetlinkError) as exc:
                    _log('%s: cannot read its TX SAs (%s): %s' % (name, args.reason, exc))
                    failed += 1
                    continue
                for warning in _secy.record_tx_pns(registry, state, specs.get(name)):
                    _log('%s: WARNING %s (%s)' % (name, warning, args.reason))
    return 1 if failed else 0


def _cannot_run(argv):
    return 1, '', 'no command runner: run the agent through its launcher (%s)' % LAUNCHER


def rollback(args, run=_cannot_run):
    """Roll SecY `args.name` back from its unconfirmed change (the transient timer that macsec_secy or
    macsec_secret_file armed runs this). `run(argv)` returns (rc, stdout, stderr), as AnsibleModule.run_command
    does (the launcher's). Returns 0 when it was rolled back or nothing was pending."""
    from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
    from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
    if _confirm_files.read(args.pending_dir, args.name) is not None:
        # An MKA port: its daemon's configuration of before, and a restart (no netlink, no pyroute2).
        try:
            record = _confirm_files.rollback(args.pending_dir, args.name, run, reason=args.reason)
        except (ValueError, OSError) as exc:
            return _rollback_failed(args.name, exc)
        _report_rollback(args.name, record)
        return 1 if record and any('FAILED' in change for change in record['changes']) else 0
    from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl
    from ansible_collections.l2sec.macsec.plugins.module_utils import _secy
    try:
        with nl.IPRoute() as ipr, nl.MacsecSocket() as genl:
            with _pn_registry.PnRegistry.open(args.pn_registry, min_margin=args.pn_margin,
                                              interval=args.interval) as registry:
                record = _confirm.rollback(args.pending_dir, args.name, ipr, genl, registry, _no_key_id,
                                           reason=args.reason)
    except (_confirm.ConfirmError, _secy.SecyError, nl.MacsecError, nl.NetlinkError, ValueError, OSError) as exc:
        return _rollback_failed(args.name, exc)
    _report_rollback(args.name, record)
    return 0


def _rollback_failed(name, exc):
    _log('%s: ROLLBACK FAILED: %s' % (name, exc))
    return 1


def _report_rollback(name, record):
    if record is None:
        _log('%s: no unconfirmed change to roll back' % name)
    else:
        _log('%s: its change was not confirmed in time: restored %s (%s)' % (
            name, record['restored'], '; '.join(record['changes']) or 'nothing to change'))


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='l2sec-macsec-agent', description=__doc__.splitlines()[0])
    parser.add_argument('command', choices=('restore', 'persist', 'rollback'))
    parser.add_argument('name', nargs='?', help='the SecY to roll back (rollback only)')
    parser.add_argument('--pending-dir', default='/run/l2sec-macsec/pending')
    parser.add_argument('--state-dir', default=STATE_DIR)
    parser.add_argument('--pn-registry', default=_pn_registry.DEFAULT_PATH)
    parser.add_argument('--pn-margin', type=int, default=_pn_registry.DEFAULT_MIN_MARGIN)
    parser.add_argument('--interval', type=int, default=DEFAULT_INTERVAL)
    parser.add_argument('--reason', default='manual')
    args = parser.parse_intermixed_args(argv)  # the timer gives the name after the options
    if (args.command == 'rollback') != (args.name is not None):
        parser.error('rollback takes the name of a SecY, and only rollback does')
    return args


def main(argv, run=_cannot_run):
    """The agent's command line. `run(argv)`: how the launcher runs a command, (rc, stdout, stderr)."""
    args = parse_args(argv)
    if args.command == 'restore':
        return 1 if restore(args) else 0
    if args.command == 'rollback':
        return rollback(args, run)
    return persist(args)
