# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kernel provider's filter: one host's part of a link + its key material → macsec_secy's options."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible_collections.l2sec.macsec.plugins.module_utils import _topology
from ansible_collections.l2sec.macsec.plugins.plugin_utils import _registered

# The generation picks the AN: a new generation is installed beside the old one (another AN) and the old SAs are
# removed after it, so a generation bump never replaces a key in place.
NUM_AN = 4


def an_of_generation(generation):
    return (int(generation) - 1) % NUM_AN


def _sa(record, an):
    sa = {'an': an, 'key': record['sak'], 'key_id': record['key_id']}
    if record.get('ssci') is not None:
        sa['ssci'] = record['ssci']
    return sa


def macsec_secy_args(entry, material, parent_ipv6=False):
    """The options of l2sec.macsec.macsec_secy for one kernel link of a host's plan part."""
    if not isinstance(entry, Mapping) or not {'name', 'options', 'end', 'peers'} <= set(entry):
        raise AnsibleFilterError('macsec_secy_args: the input must be an entry of a host\'s plan part '
                                 '(macsec_topology phase=plan), with name, options, end and peers')
    if not isinstance(material, Mapping) or material.get('link') != entry['name'] or 'tx' not in material:
        raise AnsibleFilterError('macsec_secy_args: the material must be the kernel key material of link %s '
                                 '(macsec_keys)' % entry.get('name'))
    options, end = entry['options'], entry['end']
    if material['tx'].get('host') != end.get('host'):
        # Another host's material would make this host send with that host's key (and SSCI): nonce reuse.
        raise AnsibleFilterError('macsec_secy_args: the material of link %s is for host %s, the entry for host %s: '
                                 'give the material that macsec_keys derived for this host'
                                 % (entry['name'], material['tx'].get('host'), end.get('host')))
    an = an_of_generation(material['generation'])
    peers = {record['host']: record for record in material.get('rx') or ()}
    missing = [peer.get('host') for peer in entry['peers'] if peer.get('host') not in peers]
    if missing:
        raise AnsibleFilterError('macsec_secy_args: the material of link %s has no key of the peer(s) %s: derive it '
                                 'from the same plan' % (entry['name'], ', '.join(str(host) for host in missing)))
    args = {
        'name': options['macsec_ifname'],
        'parent': end['interface'],
        'port': end['port'],
        'cipher': options['cipher'],
        'icv_len': options.get('icv_len'),
        'encrypt': options['encrypt'],
        'send_sci': options.get('send_sci'),
        'replay_protect': options.get('replay_protect'),
        'replay_window': options.get('replay_window'),
        'validate': options.get('validate'),
        'offload': options.get('offload'),
        'mtu': options.get('mtu'),
        'addresses': [end['address']] if end.get('address') else None,
        'parent_ipv6': parent_ipv6,
        'salt': material.get('salt'),
        'encoding_sa': an,
        'tx_sas': [_sa(material['tx'], an)],
        'rx_scs': [{'sci': peer['sci'], 'sas': [_sa(peers[peer['host']], an)]} for peer in entry['peers']],
        # macsec_over_ipsec: the parent is a GRETAP tunnel that macsec_secy makes too.
        'tunnel': _topology.tunnel_spec(entry),
    }
    # Options the link leaves unset are left out: the module's defaults (the contract's) apply.
    return {key: value for key, value in args.items() if value is not None}


def _kernel_links(plan, host):
    return [entry for entry in ((plan.get('hosts') or {}).get(host) or {}).get('links') or ()
            if entry.get('provider') == 'kernel']


def _link_name_of(item):
    """The link of one loop item: the kernel role's converge loop (loop_var kernel_link_name), or its async_status
    loop over those results (loop_var kernel_job)."""
    if item.get('kernel_link_name') is not None:
        return item['kernel_link_name']
    job = item.get('kernel_job')
    return job.get('kernel_link_name') if isinstance(job, Mapping) else None


def _batched(entry, provider):
    """Whether a host's link entry is one of those batched for `provider`: a MACsec provider's links, or with
    `strongswan` the links with `ipsec` (whatever their MACsec provider)."""
    if provider == 'strongswan':
        return bool((entry.get('options') or {}).get('ipsec'))
    return entry.get('provider') == provider


def macsec_link_batches(plan, size=0, provider='kernel'):
    """The links of `provider` in the plan (`strongswan`: the links with ipsec), in the inventory's order, cut into
    batches of `size` links (0: one batch of all). A link is one unit whatever its number of ends, so all ends of a
    link (all members of a segment) are in the same batch."""
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise AnsibleFilterError('macsec_link_batches: the batch size must be a number of links (0: all), not %r'
                                 % (size,)) from None
    if size < 0:
        raise AnsibleFilterError('macsec_link_batches: the batch size must be 0 (all links) or more, not %d' % size)
    names = []
    for host_part in (plan.get('hosts') or {}).values():
        for entry in (host_part or {}).get('links') or ():
            if _batched(entry, provider) and entry['name'] not in names:
                names.append(entry['name'])
    order = {name: index for index, name in enumerate(plan.get('links') or ())}
    names.sort(key=lambda name: (order.get(name, len(order)), name))
    if not names:
        return []
    size = size or len(names)
    return [names[start:start + size] for start in range(0, len(names), size)]


def macsec_batch_stop(verdicts, batch, index, percent, setting):
    """Why no further batch starts after batch number `index` (from 0) of `batch` links: more of its links were not
    confirmed (in `verdicts`, from macsec_confirm_verdicts, macsec_mka_verdicts or macsec_ike_verdicts) than `percent`
    of them allows (the variable `setting`). '' when the batches go on."""
    try:
        percent = int(percent)
    except (TypeError, ValueError):
        raise AnsibleFilterError('macsec_batch_stop: %s must be a percentage (0-100), not %r' % (setting, percent)) from None
    failed = [name for name, link in ((verdicts or {}).get('links') or {}).items() if not link.get('confirmed')]
    if not batch or len(failed) * 100 <= percent * len(batch):
        return ''
    return ('%d of the %d link(s) of batch %d were not confirmed (more than %s %d%%); no further batch started.'
            % (len(failed), len(batch), int(index) + 1, setting, percent))


def macsec_confirm_plan(plan, hostvars, hosts, register='kernel_secys', only=None):
    """Which links of the kernel provider wait for a confirmation after macsec_secy (registered as `register`, a
    loop over the host's link names; or a list of such names, e.g. the change and the async_status that waited for
    it): those with an end whose change is pending, or that the controller lost.
    Returns {links: {name: {ifname, ends, pending, unreachable}}, probe: {host: [ifnames]}}: every end of such a
    link probes, the unchanged ones too (their peers must hear them). `only`: the names of the batch's links.
    A link with a peer outside `hosts` (`outside`) is not probed: it cannot be confirmed from both ends."""
    links = {}
    registers = [register] if isinstance(register, str) else list(register)
    for host in hosts:
        results = [_registered.registered(hostvars, host, name) for name in registers]
        pending = set().union(*(_registered.flagged_links(result, 'pending', _link_name_of) for result in results))
        lost = any(_registered.lost(result) for result in results)
        for entry in _kernel_links(plan, host):
            if only is not None and entry['name'] not in only:
                continue  # another batch's link
            link = links.setdefault(entry['name'], {'ifname': entry['options']['macsec_ifname'], 'ends': [],
                                                    'pending': [], 'unreachable': [], 'outside': []})
            link['ends'].append(host)
            for peer in entry.get('peers') or ():
                # A peer this play does not run (--limit, or a device Ansible does not manage) cannot probe.
                if peer.get('host') not in hosts and str(peer.get('host') or peer.get('sci')) not in link['outside']:
                    link['outside'].append(str(peer.get('host') or peer.get('sci')))
            if entry['name'] in pending:
                link['pending'].append(host)
            if lost:
                link['unreachable'].append(host)
    links = {name: link for name, link in links.items() if link['pending'] or link['unreachable']}
    probe = {}
    for link in links.values():
        for host in link['ends'] if not link['outside'] else ():
            probe.setdefault(host, []).append(link['ifname'])
    return {'links': links, 'probe': probe}


def _peer_hosts(plan, host, link_name):
    for entry in _kernel_links(plan, host):
        if entry['name'] == link_name:
            return {str(peer.get('sci')).lower(): peer.get('host') for peer in entry.get('peers') or ()}
    return {}


def _end_reasons(plan, link_name, link, host, result, timeout):
    if not result or result.get('skipped'):
        return ['%s did not probe' % host]
    if _registered.lost(result):
        return ['%s could not be reached to probe (its SSH may cross this link)' % host]
    if result.get('failed'):
        return ['%s: the probe failed: %s' % (host, result.get('msg'))]
    secy = (result.get('secys') or {}).get(link['ifname'])
    if not secy or not secy.get('interface'):
        return ['%s has no SecY %s' % (host, link['ifname'])]
    if host in link['pending'] and not secy.get('pending'):
        # Its timer came first: what the probe heard is the state of before (the timeout was too short).
        return ['%s rolled its change back before the probe (raise kernel_confirm_timeout)' % host]
    peers = _peer_hosts(plan, host, link_name)
    reasons = []
    for sci, heard in sorted((secy.get('peers') or {}).items()):
        if heard.get('ok'):
            continue
        reasons.append('%s received no protected frame from %s (SCI %s) on AN %s in %s s%s' % (
            host, peers.get(str(sci).lower(), 'a peer'), sci, heard.get('an'), timeout,
            '' if heard.get('received') is not None else ': it has no such RX SA'))
    if not secy.get('peers'):
        reasons.append('%s has no RX SA to hear its peers on' % host)
    return reasons


def macsec_confirm_verdicts(confirm_plan, plan, hostvars, register='kernel_probe', timeout=30):
    """The verdict on each link of macsec_confirm_plan() from the probes of its ends (registered as `register`):
    a link is confirmed only when every end heard every peer. A link with ends outside the play is committed
    without a probe and listed in `unprobed`. Returns {links: {name: {confirmed, reasons, ends}}, commit: {host:
    [ifnames]}, failed: {host: [link names]}, unprobed: {link name: [ends outside the play]}}."""
    verdicts = {'links': {}, 'commit': {}, 'failed': {}, 'unprobed': {}}
    for name, link in sorted((confirm_plan.get('links') or {}).items()):
        reasons = []
        if link.get('outside'):
            # Committed without a probe (the run says so): the ends outside the play cannot take part.
            verdicts['unprobed'][name] = link['outside']
            verdicts['links'][name] = {'confirmed': True, 'reasons': [], 'ends': link['ends'],
                                       'unprobed': link['outside']}
            for host in link['pending']:
                verdicts['commit'].setdefault(host, []).append(link['ifname'])
            continue
        for host in link['ends']:
            reasons.extend(_end_reasons(plan, name, link, host, _registered.registered(hostvars, host, register), timeout))
        verdicts['links'][name] = {'confirmed': not reasons, 'reasons': reasons, 'ends': link['ends']}
        for host in link['ends']:
            if not reasons:
                if host in link['pending']:
                    verdicts['commit'].setdefault(host, []).append(link['ifname'])
            else:
                verdicts['failed'].setdefault(host, []).append(name)
    return verdicts


class FilterModule:
    """The kernel provider's filters of l2sec.macsec."""

    def filters(self):
        return {'macsec_secy_args': macsec_secy_args, 'macsec_confirm_plan': macsec_confirm_plan,
                'macsec_link_batches': macsec_link_batches, 'macsec_batch_stop': macsec_batch_stop,
                'macsec_confirm_verdicts': macsec_confirm_verdicts}
