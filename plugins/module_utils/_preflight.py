# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a host can do for MACsec, read without changing anything.

Private to the collection: the backend of the macsec_preflight module. Each probe is a small
function that returns plain data, so the module is one call per host (module calls are expensive).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import re

from ansible_collections.l2sec.macsec.plugins.module_utils import _generations

SYS_NET = '/sys/class/net'


def kernel_release():
    return platform.release()


def macsec_module_state(release=None, modules_root='/lib/modules', sys_module='/sys/module'):
    """Return 'loaded', 'builtin', 'available' or 'missing' for the kernel's macsec driver."""
    release = release or kernel_release()
    if os.path.isdir(os.path.join(sys_module, 'macsec')):
        return 'loaded'
    base = os.path.join(modules_root, release)
    if _file_mentions(os.path.join(base, 'modules.builtin'), '/macsec.ko'):
        return 'builtin'
    if _file_mentions(os.path.join(base, 'modules.dep'), '/macsec.ko'):
        return 'available'
    return 'missing'


def _file_mentions(path, needle):
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return any(needle in line for line in handle)
    except OSError:
        return False


def python_library_version(name):
    """Version of an importable library, or None.

    Read from the package metadata without importing it: `import pyroute2` alone costs seconds on a slow
    host, and pyroute2 0.7 has no __version__ attribute anyway.
    """
    if importlib.util.find_spec(name) is None:
        return None
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return 'unknown'


def interfaces(sys_net=SYS_NET):
    """Every network interface with its MAC, MTU, state and the facts that decide who owns it."""
    found = {}
    try:
        names = sorted(os.listdir(sys_net))
    except OSError:
        return found
    for name in names:
        path = os.path.join(sys_net, name)
        found[name] = {
            'mac': _read(os.path.join(path, 'address')),
            'mtu': _read_int(os.path.join(path, 'mtu')),
            'operstate': _read(os.path.join(path, 'operstate')),
            'master': _link_target_name(os.path.join(path, 'master')),
            'kind': 'macsec' if os.path.isdir(os.path.join(path, 'macsec')) else _uevent_devtype(path),
        }
    return found


def _read(path):
    try:
        with open(path, encoding='utf-8') as handle:
            return handle.read().strip()
    except OSError:
        return None


def _read_int(path):
    text = _read(path)
    return int(text) if text and text.isdigit() else None


def _link_target_name(path):
    return os.path.basename(os.readlink(path)) if os.path.islink(path) else None


def _uevent_devtype(path):
    uevent = _read(os.path.join(path, 'uevent')) or ''
    match = re.search(r'^DEVTYPE=(\S+)', uevent, re.M)
    return match.group(1) if match else None


def first_version(text, pattern=r'v?(\d+\.\d+(?:\.\d+)?)'):
    match = re.search(pattern, text or '')
    return match.group(1) if match else None


# Daemons: (name, version command, binary whose strings reveal built-in MACsec support)
DAEMONS = {
    'wpa_supplicant': (['wpa_supplicant', '-v'], 'wpa_supplicant'),
    'hostapd': (['hostapd', '-v'], 'hostapd'),
    # A hostapd rebuilt with MACsec beside the distribution's (Debian 12's has none): roles/hostapd/files.
    'hostapd_macsec': (['hostapd-macsec', '-v'], 'hostapd-macsec'),
    'strongswan': (['swanctl', '--version'], None),
    'freeradius': (['freeradius', '-v'], None),
}


# Debian ships strongSwan's openssl plugin (ECDSA keys, AES-GCM, ECP groups) apart, in
# libstrongswan-standard-plugins, which the daemon's packages only recommend.
STRONGSWAN_OPENSSL_PLUGIN = '/usr/lib/ipsec/plugins/libstrongswan-openssl.so'


def daemon_facts(run_command, find_binary, exists=os.path.exists):
    """Version and MACsec ability of each daemon an approach may need; None where not installed.

    run_command(argv) -> (rc, stdout, stderr) and find_binary(name) -> path or None are injected so that
    the probes stay testable without the daemons.
    """
    facts = {}
    for name, (argv, binary) in DAEMONS.items():
        path = find_binary(argv[0])
        if path is None:
            facts[name] = None
            continue
        dummy_rc, out, err = run_command([path] + argv[1:])
        entry = {'path': path, 'version': first_version(out + '\n' + err, r'(\d+\.\d+(?:\.\d+)?)')}
        if binary:
            entry['macsec_linux'] = binary_mentions(path, b'macsec_linux')
            # wpa_supplicant 2.11 added these; 2.10 (Debian 12) has neither.
            entry['macsec_csindex'] = binary_mentions(path, b'macsec_csindex')
            entry['macsec_offload'] = binary_mentions(path, b'macsec_offload')
        if name == 'strongswan':
            entry['openssl_plugin'] = exists(STRONGSWAN_OPENSSL_PLUGIN)
        facts[name] = entry
    return facts


def binary_mentions(path, needle, chunk_size=1 << 20):
    """True when the file contains the bytes: a driver or option name compiled into a daemon."""
    try:
        with open(path, 'rb') as handle:
            tail = b''
            while True:
                chunk = handle.read(chunk_size)
                if not chunk:
                    return False
                if needle in tail + chunk:
                    return True
                tail = chunk[-len(needle):]
    except OSError:
        return False


def offload_facts(run_command, ethtool_path, names):
    """The NIC's MACsec hardware offload feature per interface ('on', 'off', 'off [fixed]' or None)."""
    facts = {}
    for name in names:
        facts[name] = None
        if ethtool_path is None:
            continue
        rc, out, dummy_err = run_command([ethtool_path, '-k', name])
        if rc == 0:
            match = re.search(r'^macsec-hw-offload:\s*(.+)$', out, re.M)
            facts[name] = match.group(1).strip() if match else None
    return facts


# Who else may own a parent NIC (docs/coexistence.md). Each manager is asked once for all its devices.

NM_CONF = '/etc/NetworkManager/conf.d/90-l2sec-macsec.conf'


def split_terse(line):
    """The fields of one line of nmcli's terse output: ':' separates them, a backslash escapes ':' and itself."""
    fields, field, escaped = [], [], False
    for char in line:
        if escaped:
            field.append(char)
            escaped = False
        elif char == '\\':
            escaped = True
        elif char == ':':
            fields.append(''.join(field))
            field = []
        else:
            field.append(char)
    fields.append(''.join(field))
    return fields


def networkmanager_devices(run_command, nmcli_path):
    """(running, {device: state}) from one `nmcli -t -f DEVICE,STATE device status`.

    (False, {}) when nmcli is not installed or fails: NetworkManager not running ("Error: NetworkManager is not
    running.", rc 8) manages nothing.
    """
    if nmcli_path is None:
        return False, {}
    rc, out, dummy_err = run_command([nmcli_path, '-t', '-f', 'DEVICE,STATE', 'device', 'status'])
    if rc != 0:
        return False, {}
    states = {}
    for line in out.splitlines():
        fields = split_terse(line)
        if len(fields) >= 2 and fields[0]:
            states[fields[0]] = fields[1]
    return True, states


def networkd_links(run_command, networkctl_path):
    """(running, {link: setup state}) from one `networkctl list --no-legend --no-pager`.

    Its columns are IDX LINK TYPE OPERATIONAL SETUP (an interface name has no blank). (False, {}) when networkctl
    is not installed or fails, and when it warns that systemd-networkd is not running: the states it would
    show then are left over from a networkd that no longer manages anything.
    """
    if networkctl_path is None:
        return False, {}
    rc, out, err = run_command([networkctl_path, 'list', '--no-legend', '--no-pager'])
    if rc != 0 or 'not running' in err:
        return False, {}
    states = {}
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[0].isdigit():
            states[fields[1]] = fields[4]
    return True, states


def master_kind(master, sys_net=SYS_NET):
    """'bond', 'bridge' or 'other' for the master device a NIC is enslaved to."""
    if os.path.isdir(os.path.join(sys_net, master, 'bonding')):
        return 'bond'
    if os.path.isdir(os.path.join(sys_net, master, 'bridge')):
        return 'bridge'
    return 'other'


def parent_owners(names, all_interfaces, nm_states, networkd_states, sys_net=SYS_NET):
    """Who else manages each parent: NetworkManager, systemd-networkd, or a master (bond, bridge, other)."""
    owners = {}
    for name in names:
        master = (all_interfaces.get(name) or {}).get('master')
        kind = master_kind(master, sys_net) if master else None
        owners[name] = {
            # Every state but "unmanaged" is NetworkManager's: "unavailable" (no carrier yet) and "disconnected"
            # are devices it will configure the moment it can, "connected (externally)" one it watches.
            'networkmanager': name in nm_states and nm_states[name] != 'unmanaged',
            # Every setup state but "unmanaged" (configured, configuring, pending, failed, linger) is networkd's.
            'networkd': name in networkd_states and networkd_states[name] != 'unmanaged',
            'bond': master if kind == 'bond' else None,
            'bridge': master if kind == 'bridge' else None,
            'other_master': master if kind == 'other' else None,
        }
    return owners


def coexistence_refusals(owners, networkmanager_unmanage=False):
    """One message per parent and manager that the collection will not fight over the parent, with the fix.

    NetworkManager is not refused when `networkmanager_unmanage` is true: the preflight role then tells it to leave
    the parents alone. A master is always refused, and nothing is ever changed for it.
    """
    refusals = []
    for name, owner in sorted(owners.items()):
        if owner['bond']:
            refusals.append('%s is a slave of bond %s: for MACsec on a bond, put the SecY on the bond itself '
                            '(interface: %s), not on its slave %s' % (name, owner['bond'], owner['bond'], name))
        if owner['bridge']:
            refusals.append('%s is a port of bridge %s: a bridge port cannot be a MACsec parent; remove %s from %s '
                            'or put the SecY on the bridge (interface: %s)'
                            % (name, owner['bridge'], name, owner['bridge'], owner['bridge']))
        if owner['other_master']:
            refusals.append('%s is enslaved to %s (a team, VRF, Open vSwitch or other master): a MACsec parent has no '
                            'master; release %s from %s or put the SecY on %s'
                            % (name, owner['other_master'], name, owner['other_master'], owner['other_master']))
        if owner['networkmanager'] and not networkmanager_unmanage:
            refusals.append('%s is managed by NetworkManager: set preflight_networkmanager_unmanage to true for the '
                            'preflight role to write %s, or add interface-name:%s to unmanaged-devices in '
                            'NetworkManager\'s configuration yourself and run nmcli device set %s managed no'
                            % (name, NM_CONF, name, name))
        if owner['networkd']:
            refusals.append('%s is managed by systemd-networkd: add a .network file matching %s with [Link] '
                            'Unmanaged=yes, or remove the one that matches, then networkctl reload' % (name, name))
    return refusals


STRICT_PARENT_UNIT = '/etc/systemd/system/l2sec-strict-parent.service'


def host_facts(run_command, find_binary, parents=(), generations_file=_generations.GENERATIONS_FILE):
    """Everything the preflight role reports, in one dictionary with no secrets.

    Raises _generations.GenerationsError when the record of retired generations exists but cannot be read.
    """
    retired = _generations.load(generations_file)
    all_interfaces = interfaces()
    present = [name for name in parents if name in all_interfaces]
    managers = {'networkmanager': None, 'networkd': None}
    nm_states, networkd_states = {}, {}
    if present:  # the managers are asked only about parents
        managers['networkmanager'], nm_states = networkmanager_devices(run_command, find_binary('nmcli'))
        managers['networkd'], networkd_states = networkd_links(run_command, find_binary('networkctl'))
    return {
        'kernel': kernel_release(),
        'macsec_module': macsec_module_state(),
        'pyroute2': python_library_version('pyroute2'),
        'cryptography': python_library_version('cryptography'),
        'daemons': daemon_facts(run_command, find_binary),
        'interfaces': all_interfaces,
        'missing_parents': sorted(name for name in parents if name not in all_interfaces),
        'offload': offload_facts(run_command, find_binary('ethtool'), present),
        'network_managers': managers,
        'parent_owners': parent_owners(present, all_interfaces, nm_states, networkd_states),
        'retired_generations': retired,
        # An earlier run's strict parent filter (role l2sec.macsec.guard): a host that no longer needs it loses it.
        'strict_parent_filter': os.path.exists(STRICT_PARENT_UNIT),
    }
