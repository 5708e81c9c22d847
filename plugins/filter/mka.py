# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The MKA provider's filter: one host's part of a wpa_supplicant link → the port its daemon runs."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology
from ansible_collections.l2sec.macsec.plugins.plugin_utils import _registered
from ansible_collections.l2sec.macsec.plugins.plugin_utils import _verdicts

DAEMON_OF_ROLE = {'supplicant': 'wpa_supplicant', 'authenticator': 'hostapd'}


def _peer_addresses(peers):
    """The peers' addresses without prefix: what the health check pings across the link."""
    return [str(peer['address']).split('/', 1)[0] for peer in peers if peer.get('address')]


def macsec_mka_port(entry):
    """The MKA port of one wpa_supplicant link of a host: the SecY to make, and what the daemon's config needs.

    No key material: a pre-shared CAK/CKN comes from macsec_keys, in the task that writes the config."""
    if not isinstance(entry, Mapping) or not {'name', 'provider', 'options', 'end', 'peers'} <= set(entry):
        raise AnsibleFilterError('macsec_mka_port: the input must be an entry of a host\'s plan part '
                                 '(macsec_topology phase=plan), with name, provider, options, end and peers')
    if entry['provider'] != 'wpa_supplicant':
        raise AnsibleFilterError('macsec_mka_port: link %s has provider %s, not wpa_supplicant'
                                 % (entry['name'], entry['provider']))
    options, end = entry['options'], entry['end']
    mode = options.get('mode') or 'psk'
    eap_role = end.get('eap_role') if mode == 'eap' else None
    return {
        'link': entry['name'],
        'mode': mode,
        'eap_role': eap_role,
        # Who runs MKA on this end: hostapd for an 802.1X authenticator, wpa_supplicant otherwise.
        'daemon': DAEMON_OF_ROLE.get(eap_role, 'wpa_supplicant'),
        'parent': end['interface'],
        'ifname': options['macsec_ifname'],
        'port': end.get('port') or options.get('port') or 1,
        'cipher': options.get('cipher') or 'gcm-aes-128',
        'icv_len': options.get('icv_len') or 16,
        'validate': options.get('validate') or 'strict',
        'offload': options.get('offload') or 'off',
        'encrypt': options.get('encrypt', True) is not False,
        'replay_protect': options.get('replay_protect', True) is not False,
        'replay_window': options.get('replay_window') or 0,
        'mtu': options.get('mtu'),
        'addresses': [end['address']] if end.get('address') else None,
        'mka_priority': end.get('mka_priority'),
        'radius': options.get('radius'),
        'peers': _peer_addresses(entry['peers']),
        'peer_hosts': [peer.get('host') for peer in entry['peers']],
        # macsec_over_ipsec: the port's parent is a GRETAP tunnel that macsec_secy makes too.
        'tunnel': _topology.tunnel_spec(entry),
    }


def macsec_health_port(port, ctrl_dir):
    """What l2sec.macsec.macsec_health checks of an MKA port: the SecY, the daemon's status, traffic to the peers."""
    return {'name': port['ifname'], 'daemon': port['daemon'],
            'ctrl_path': '%s/%s' % (str(ctrl_dir).rstrip('/'), port['parent']), 'peers': port['peers']}


# What a link asks of the daemon beyond wpa_supplicant 2.10, and the build flag (read by preflight) that shows it.
NEEDS = (
    ('cipher', lambda port: port['cipher'] == 'gcm-aes-256', 'macsec_csindex',
     'cipher gcm-aes-256 needs macsec_csindex (wpa_supplicant 2.11)', 'use gcm-aes-128, or upgrade wpa_supplicant'),
    ('offload', lambda port: port['offload'] != 'off', 'macsec_offload',
     'offload needs macsec_offload (wpa_supplicant 2.11)', 'set offload: off, or upgrade wpa_supplicant'),
)


def macsec_mka_refusals(ports, found, daemon='wpa_supplicant', package='wpasupplicant'):
    """Why the daemon on the host cannot run these ports (empty when it can). `found` is preflight's entry of the
    daemon (path, version, macsec_linux, macsec_csindex, macsec_offload) or None when it is not installed."""
    if not ports:
        return []
    if not found:
        return ['%s is not installed: install the %s package (or let the role install it)' % (daemon, package)]
    where = '%s %s at %s' % (daemon, found.get('version') or '(version unknown)', found.get('path'))
    if not found.get('macsec_linux'):
        return ['%s has no macsec_linux driver (built without CONFIG_MACSEC and CONFIG_DRIVER_MACSEC_LINUX): '
                'install a build that has it' % where]
    refusals = []
    for port in ports:
        for option, needed, flag, what, fix in NEEDS:
            if needed(port) and not found.get(flag):
                refusals.append('link %s: %s, which %s lacks: %s' % (port['link'], what, where, fix))
    return refusals


_UNIT_SAFE = frozenset('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_.')


def macsec_unit_instance(name):
    """An interface name as the instance of a template unit, escaped as `systemd-escape` does: a `-` would read
    as `/` in the device unit that the unit binds to (sys-subsystem-net-devices-%i.device), so gt-a is gt\\x2da."""
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError('macsec_unit_instance: give an interface name, not %r' % (name,))
    escaped = []
    for index, char in enumerate(name):
        if char in _UNIT_SAFE and not (index == 0 and char == '.'):
            escaped.append(char)
        else:
            escaped.extend('\\x%02x' % byte for byte in char.encode('utf-8'))
    return ''.join(escaped)


def _link_of_config(item):
    """The link of one item of the wpa_supplicant role's loop that writes the port configurations."""
    port = item.get('wpa_supplicant_item')
    return port.get('link') if isinstance(port, Mapping) else None


def _end_reasons(host, ifname, health, lost):
    if lost:
        return ['%s could not be reached to check %s (its SSH may cross this link)' % (host, ifname)]
    if not health or health.get('skipped'):
        return ['%s did not check %s' % (host, ifname)]
    port = (health.get('ports') or {}).get(ifname)
    if not isinstance(port, Mapping):
        return ['%s did not check %s: %s' % (host, ifname, health.get('msg') or 'no result for it')]
    return [] if port.get('healthy') else list(port.get('reasons') or ['%s: %s is not healthy' % (host, ifname)])


def macsec_mka_verdicts(plan, hostvars, hosts, configs='wpa_supplicant_configs', health='wpa_supplicant_health',
                        reached=('wpa_supplicant_restarts', 'wpa_supplicant_jobs'), only=None):
    """The verdict on each MKA link with an end in `hosts`, from the health check of its ends (registered as
    `health`): confirmed when every end in the play is healthy (MKA secured, SAs active, protected frames crossing
    to its peers). An end counts as changed when its port configuration is pending (registered as `configs`), and
    as lost when the controller could not reach it (in the tasks registered as `reached`, the restarts and the wait
    for the detached ones, or in the health check): a peer's restart may cut the path to it.
    Returns {links: {name: {confirmed, reasons, ends, pending, lost, ifname}}, commit: {host: [ifnames]}, failed:
    {host: [link names]}}: a changed end of a confirmed link commits; every end of a link that is not confirmed
    fails, after its changed or lost ends rolled back. `only`: the names of the batch's links (None: all)."""
    ends = []
    for host in hosts:
        pending = _registered.flagged_links(_registered.registered(hostvars, host, configs), 'pending', _link_of_config)
        checked, lost = _registered.checked(hostvars, host, health, reached)
        for entry in ((plan.get('hosts') or {}).get(host) or {}).get('links') or ():
            if entry.get('provider') != 'wpa_supplicant' or (only is not None and entry['name'] not in only):
                continue  # another provider's link, or another batch's
            ifname = entry['options']['macsec_ifname']
            ends.append(_verdicts.End(entry['name'], host, ifname, entry['name'] in pending, lost,
                                      _end_reasons(host, ifname, checked, lost)))
    return _verdicts.decide(ends, ifname=lambda end: end.change)


class FilterModule:
    """The MKA provider's filters of l2sec.macsec."""

    def filters(self):
        return {'macsec_mka_port': macsec_mka_port, 'macsec_health_port': macsec_health_port,
                'macsec_mka_refusals': macsec_mka_refusals, 'macsec_unit_instance': macsec_unit_instance,
                'macsec_mka_verdicts': macsec_mka_verdicts}
