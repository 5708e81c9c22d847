# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Teardown: remove from a host everything the collection made, and put its parents back as they were.

One module call per host (macsec_teardown) runs these steps, in an order that never leaves cleartext flowing where
a link was: first the daemons stop (no new SAs), then the SecYs go (each retiring its keys and recording its PNs in
the PN registry), then the parents get their first settings back (the _parents record), and last the files go.

What stays, on purpose: the PN registry and the record of retired generations (the key lifecycle: a link never goes
back to a generation or a key it used, teardown included), and the packages the roles installed (other software may
use them; the services of those packages run on with nothing of ours loaded).

`find()` reads what is there, `plan()` turns it into steps with a text each (what check mode and the diff show),
`apply()` runs them. Commands go through `run(argv) -> (rc, stdout, stderr)` (the module's run_command).
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import shutil

from ansible_collections.l2sec.macsec.plugins.module_utils import _agent
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents

CONFIG_DIR = '/etc/l2sec-macsec'
# The unit files the roles and the agent install; instances (l2sec-mka@eth1) are found by systemctl.
STRICT_PARENT_UNIT = 'l2sec-strict-parent.service'
UNIT_FILES = (_agent.SERVICE, _agent.PERSIST_SERVICE, _agent.PERSIST_TIMER, 'l2sec-mka@.service',
              'l2sec-hostapd@.service', 'l2sec-ike-up.service', STRICT_PARENT_UNIT)
# The transient timers of commit-confirmed changes (_confirm.UNIT_PREFIX) have no unit file: stopped, not disabled.
ROLLBACK_PATTERN = 'l2sec-rollback-*'
UNIT_PATTERNS = ('l2sec-macsec*', 'l2sec-mka@*', 'l2sec-hostapd@*', 'l2sec-ike-up.service', STRICT_PARENT_UNIT,
                 ROLLBACK_PATTERN)
# The strict parents' nftables table (role l2sec.macsec.guard); its unit deletes it when it stops.
NFT_TABLE = ('netdev', 'l2sec_macsec')
# Below the swanctl directory: the role's files of connections and pre-shared keys (one per link, conf.d/
# l2sec-macsec-LINK.conf; one for all links before 0.1.0's commit-confirmed strongSwan, conf.d/l2sec-macsec.conf and
# conf.d/l2sec-macsec-secrets.conf), and links to the PKI's key and CRL.
SWANCTL_CONFIGS = 'conf.d/l2sec-macsec*.conf'
SWANCTL_FILES = ('private/l2sec-macsec.pem', 'x509crl/l2sec-macsec.pem')
# Below FreeRADIUS's directory: the role's module, virtual server and their links, its credentials directory.
FREERADIUS_FILES = ('mods-enabled/l2sec_eap', 'sites-enabled/l2sec-macsec', 'mods-available/l2sec_eap',
                    'sites-available/l2sec-macsec', 'l2sec-macsec')
# What the role takes out of service (freeradius_disable_stock) and teardown puts back: Debian's own links.
FREERADIUS_STOCK = ('sites-enabled/default', 'sites-enabled/inner-tunnel', 'mods-enabled/eap')
# A connection of the role's file: `  l2sec-LINK-N {` at depth 1 inside `connections {` (two blanks of indent).
CONNECTION_LINE = re.compile(r'^ {2}(l2sec-[A-Za-z0-9_.-]+)[ \t]*\{', re.M)


# Pending commit-confirmed changes and rollback records (_confirm.PENDING_DIR is below it).
RUN_DIR = '/run/l2sec-macsec'


class Paths:
    """Where things are; tests point them into a temporary directory."""

    def __init__(self, root=''):
        self.config_dir = root + CONFIG_DIR
        self.state_dir = root + _agent.STATE_DIR
        self.unit_dir = root + _agent.UNIT_DIR
        self.agent_dir = root + _agent.INSTALL_DIR
        self.modules_load = root + _agent.MODULES_LOAD
        self.run_dir = root + RUN_DIR
        self.swanctl_dir = root + '/etc/swanctl'
        self.freeradius_dir = root + '/etc/freeradius/3.0'
        self.parents_file = root + _parents.PARENTS_FILE
        self.nft = root + '/usr/sbin/nft'


def _exists(path):
    return os.path.lexists(path)


def _loaded_units(run):
    rc, out, dummy = run(['systemctl', 'list-units', '--all', '--plain', '--no-legend'] + list(UNIT_PATTERNS))
    if rc != 0:
        return []
    return sorted({line.split()[0] for line in out.splitlines() if line.strip()})


def _swanctl_connections(path):
    """The connection names in the role's swanctl file (`  l2sec-LINK-N {` inside `connections {`)."""
    try:
        with open(path, encoding='utf-8') as handle:
            return CONNECTION_LINE.findall(handle.read())
    except OSError:
        return []


def _enablement_links(unit_dir):
    """Links that enable our units, which `systemctl disable` misses when a unit is no longer loaded."""
    return sorted(glob.glob(os.path.join(unit_dir, '*.wants', 'l2sec-*')))


def _has_nft_table(run, paths):
    if not os.path.exists(paths.nft):
        return False
    return run([paths.nft, 'list', 'table'] + list(NFT_TABLE))[0] == 0


def find(run, paths, secys):
    """What of the collection is on the host. `secys` is [(name, parent, tunnel or None)] of the boot states."""
    swanctl_configs = sorted(os.path.relpath(path, paths.swanctl_dir)
                             for path in glob.glob(os.path.join(paths.swanctl_dir, SWANCTL_CONFIGS)))
    units = _loaded_units(run)
    return {
        'units': units,
        # Read after the units would stop: the strict parent unit's stop deletes the table.
        'nft_table': STRICT_PARENT_UNIT not in units and _has_nft_table(run, paths),
        'unit_files': [name for name in UNIT_FILES if _exists(os.path.join(paths.unit_dir, name))],
        'ike_connections': [name for config in swanctl_configs
                            for name in _swanctl_connections(os.path.join(paths.swanctl_dir, config))],
        'swanctl_files': swanctl_configs
        + [name for name in SWANCTL_FILES if _exists(os.path.join(paths.swanctl_dir, name))],
        'freeradius_files': [name for name in FREERADIUS_FILES if _exists(os.path.join(paths.freeradius_dir, name))],
        'secys': list(secys),
        'parents': _parents.load(paths.parents_file),
        'files': [path for path in (paths.config_dir, paths.agent_dir, paths.modules_load, paths.run_dir)
                  if _exists(path)]
        + _enablement_links(paths.unit_dir),
    }


def _step(op, text, **args):
    return dict(args, op=op, text=text)


def plan(found):
    """The ordered steps that take the host from `found` to nothing of the collection's."""
    steps = []
    if found['units']:
        steps.append(_step('stop_units', 'stop and disable %s' % ', '.join(found['units']), units=found['units']))
    if found['nft_table']:
        steps.append(_step('delete_nft_table', 'delete the strict parents\' nftables table %s %s' % NFT_TABLE))
    if found['ike_connections']:
        steps.append(_step('terminate_ike', 'close the IKE SAs of %s' % ', '.join(found['ike_connections']),
                           connections=found['ike_connections']))
    if found['swanctl_files']:
        steps.append(_step('remove_swanctl', 'remove the swanctl files %s and reload strongSwan without them'
                           % ', '.join(found['swanctl_files']), files=found['swanctl_files']))
    if found['freeradius_files']:
        steps.append(_step('remove_freeradius', 'remove the FreeRADIUS files %s, enable its stock sites again and '
                           'restart it if it runs' % ', '.join(found['freeradius_files']),
                           files=found['freeradius_files']))
    for name, parent, tunnel in found['secys']:
        steps.append(_step('remove_secy', 'delete the macsec link %s%s (recording its PNs, retiring its keys)' % (
            name, ' and its tunnel %s' % parent if tunnel else ''), name=name, parent=parent, tunnel=tunnel))
    for parent, settings in sorted(found['parents'].items()):
        shown = ', '.join('%s %s' % (setting, _shown(value)) for setting, value in sorted(settings.items()))
        steps.append(_step('restore_parent', 'put the parent %s back as it was (%s)' % (parent, shown),
                           parent=parent, settings=settings))
    if found['unit_files']:
        steps.append(_step('remove_unit_files', 'remove the unit files %s' % ', '.join(found['unit_files']),
                           files=found['unit_files']))
    for path in found['files']:
        steps.append(_step('remove_path', 'remove %s' % path, path=path))
    return steps


def _shown(value):
    if isinstance(value, bool):
        return 'on' if value else 'off'
    return str(value)


class Teardown:
    """Runs plan() steps. `remove_secy(name, tunnel)` deletes one SecY (the module gives _secy.remove with the
    registry); `set_parent(name, settings)` puts a parent's settings back."""

    def __init__(self, run, paths, remove_secy, set_parent, macsec_parents):
        self.run = run
        self.paths = paths
        self.remove_secy = remove_secy
        self.set_parent = set_parent
        self.macsec_parents = macsec_parents
        self.done = []
        self.warnings = []

    def apply(self, steps):
        for step in steps:
            getattr(self, 'do_' + step['op'])(step)
            self.done.append(step['text'])

    def _must(self, argv):
        rc, out, err = self.run(argv)
        if rc != 0:
            raise TeardownError('%s failed (rc %d): %s' % (' '.join(argv), rc, (err or out).strip()))
        return out

    def do_stop_units(self, step):
        # disable --now: stopped and no longer started at boot; the agent's ExecStop records the PNs as it stops.
        # Timers first, on their own: stopped in one transaction with their services, a timer can still start its
        # service after that service's stop job, and the service outlives the teardown.
        # A pending change's rollback timer goes before all: the SecY it would restore is about to go.
        rollbacks = [unit for unit in step['units'] if fnmatch.fnmatch(unit, ROLLBACK_PATTERN)]
        if rollbacks:
            self._must(['systemctl', 'stop'] + rollbacks)
        rest = [unit for unit in step['units'] if unit not in rollbacks]
        timers = [unit for unit in rest if unit.endswith('.timer')]
        for units in (timers, [unit for unit in rest if unit not in timers]):
            if units:
                self._must(['systemctl', 'disable', '--now'] + units)

    def do_delete_nft_table(self, step):
        self._must([self.paths.nft, 'delete', 'table'] + list(NFT_TABLE))

    def do_terminate_ike(self, step):
        for name in step['connections']:
            rc, out, err = self.run(['swanctl', '--terminate', '--ike', name, '--force', '--timeout', '5'])
            if rc != 0 and 'no matching' not in (out + err).lower():
                self.warnings.append('closing the IKE SA of %s: %s' % (name, (err or out).strip()))

    def do_remove_swanctl(self, step):
        for name in step['files']:
            os.unlink(os.path.join(self.paths.swanctl_dir, name))
        if self.run(['systemctl', 'is-active', '--quiet', 'strongswan.service'])[0] == 0:
            # Loading the configuration without ours unloads our connections, their trap policies and keys.
            self._must(['swanctl', '--load-all', '--clear'])

    def do_remove_freeradius(self, step):
        for name in step['files']:
            _remove(os.path.join(self.paths.freeradius_dir, name))
        for name in FREERADIUS_STOCK:
            link = os.path.join(self.paths.freeradius_dir, name)
            target = '../' + name.replace('-enabled/', '-available/')
            if not _exists(link) and os.path.exists(os.path.join(os.path.dirname(link), target)):
                os.symlink(target, link)
        if self.run(['systemctl', 'is-active', '--quiet', 'freeradius.service'])[0] == 0:
            self._must(['systemctl', 'restart', 'freeradius.service'])

    def do_remove_secy(self, step):
        self.remove_secy(step['name'], step['parent'] if step['tunnel'] else None)

    def do_restore_parent(self, step):
        parent = step['parent']
        if parent in self.macsec_parents():
            # Another macsec link (not the collection's) still needs the parent's MTU: leave it and say so.
            self.warnings.append('the parent %s still carries a macsec link that is not the collection\'s: its '
                                 'settings stay as they are' % parent)
        else:
            self.set_parent(parent, step['settings'])
        _parents.forget(parent, self.paths.parents_file)

    def do_remove_unit_files(self, step):
        for name in step['files']:
            os.unlink(os.path.join(self.paths.unit_dir, name))
        self._must(['systemctl', 'daemon-reload'])
        # A unit stopped in the middle of its run (the PN persist service that its timer had just started) is left
        # "failed", and systemd keeps a failed unit loaded after its file is gone: forget it.
        rc, out, err = self.run(['systemctl', 'reset-failed'] + list(UNIT_PATTERNS))
        if rc != 0:
            self.warnings.append('systemctl reset-failed: %s' % (err or out).strip())

    def do_remove_path(self, step):
        _remove(step['path'])


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


class TeardownError(Exception):
    pass
