# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the roles' filters read of other hosts' registered results (controller side only)."""

from __future__ import annotations

from collections.abc import Mapping


def registered(hostvars, host, name):
    """The result `host` registered as `name`, or {} when it has none (a skipped play, a host left out)."""
    try:
        value = hostvars[host].get(name) if host in hostvars else None
    except (KeyError, TypeError):
        value = None
    return value if isinstance(value, Mapping) else {}


def lost(result):
    """Whether the controller could not reach the host in that task (in any item of a loop)."""
    return bool(result.get('unreachable')) or any(
        isinstance(item, Mapping) and item.get('unreachable') for item in result.get('results') or ())


def checked(hostvars, host, health, reached=()):
    """The health check `host` registered as `health`, and whether the controller lost the host: in that check, or
    in any task registered under a name of `reached` (a restart, a detached job: those may cut the path to it)."""
    result = registered(hostvars, host, health)
    return result, lost(result) or any(lost(registered(hostvars, host, name)) for name in reached)


def flagged_links(result, flag, link_of):
    """The links of the items of a registered loop `result` whose `flag` is set (a change pending, a content
    changed); `link_of(item)` names an item's link, or None."""
    links = set()
    for item in result.get('results') or ():
        name = link_of(item) if isinstance(item, Mapping) and item.get(flag) else None
        if name:
            links.add(name)
    return links
