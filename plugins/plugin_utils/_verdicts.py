# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The verdict of commit-confirmed daemon configurations, per link (controller side only; docs/lockout.md).

The roles' filters (MKA ports, IKE connections) turn each end of each link into an `End`; `decide()` turns the ends
into the verdict the roles act on: a link is confirmed when no end gave a reason against it; a changed (pending)
end of a confirmed link commits its change; every end of a link that is not confirmed fails, after its changed
or lost ends rolled back.
"""

from __future__ import annotations

import collections

# link: the link's name; host: the end; change: the name of the end's pending change (what macsec_confirm commits);
# pending: whether that change waits for its confirmation; lost: whether the controller could not reach the end;
# reasons: why the end is not healthy (empty when it is).
End = collections.namedtuple('End', ('link', 'host', 'change', 'pending', 'lost', 'reasons'))


def decide(ends, **shown):
    """{links: {name: {confirmed, reasons, ends, pending, lost, **shown of its first end}}, commit: {host: [change]},
    failed: {host: [link names]}}. `shown` maps a key of a link's entry to a function of its first End."""
    links = {}
    for end in ends:
        link = links.setdefault(end.link, dict({key: value(end) for key, value in shown.items()},
                                               ends=[], pending=[], lost=[], reasons=[], changes={}))
        link['ends'].append(end.host)
        link['changes'][end.host] = end.change
        if end.pending:
            link['pending'].append(end.host)
        if end.lost:
            link['lost'].append(end.host)
        link['reasons'].extend(end.reasons)
    verdicts = {'links': {}, 'commit': {}, 'failed': {}}
    for name, link in sorted(links.items()):
        link['confirmed'] = not link['reasons']
        changes = link.pop('changes')
        verdicts['links'][name] = link
        for host in link['ends']:
            if not link['confirmed']:
                verdicts['failed'].setdefault(host, []).append(name)
            elif host in link['pending']:
                verdicts['commit'].setdefault(host, []).append(changes[host])
    return verdicts
