# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How long validating and expanding a large fleet takes on the controller, and how much memory.

A benchmark, not a test: it prints figures. Usage: python bench/topology_bench.py [hosts] [links]
(default 10 000 hosts, 20 000 links: mostly point-to-point, one in ten a segment of 3 or 4 ends, seven in ten
kernel and three in ten wpa_supplicant).
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'plugins', 'module_utils'))

import _topology  # noqa: E402  pylint: disable=wrong-import-position,import-error


def build_fleet(host_count, link_count, seed=8021):
    """Links over host_count hosts, each end on a fresh parent NIC of its host, and the hosts' MACs."""
    rng = random.Random(seed)
    hosts = ['host%05d' % number for number in range(host_count)]
    host_number = {host: number for number, host in enumerate(hosts)}
    next_nic = dict.fromkeys(hosts, 0)
    host_macs = {host: {} for host in hosts}
    links = []
    for number in range(link_count):
        size = rng.choice((3, 4)) if number % 10 == 0 else 2
        provider = 'wpa_supplicant' if number % 10 in (3, 6, 9) else 'kernel'
        # One name in five is too long for an interface name: its macsec_ifname gets a hash.
        name = ('datacenter-east-row%03d-link%05d' % (number % 500, number) if number % 5 == 0
                else 'link%05d' % number)
        ends = []
        for host in rng.sample(hosts, size):
            interface = 'eth%d' % next_nic[host]
            next_nic[host] += 1
            ends.append({'host': host, 'interface': interface})
            # Locally administered unicast MACs, distinct per (host, NIC): the SCIs are unique.
            serial = (host_number[host] << 8) | next_nic[host]
            host_macs[host][interface] = '02:%02x:%02x:%02x:%02x:%02x' % tuple(serial.to_bytes(5, 'big'))
        link = {'name': name, 'provider': provider, 'ends': ends}
        if number % 4 == 0:
            link['cipher'] = 'gcm-aes-128'
            link['replay_window'] = 64
            for index, end in enumerate(ends):
                end['address'] = '10.%d.%d.%d/24' % (number // 256 % 256, number % 256, index + 1)
        links.append(link)
    return hosts, links, host_macs


def timed(function, *args):
    """The value, the wall-clock seconds and the CPU seconds (steadier on a busy machine)."""
    started, cpu_started = time.perf_counter(), time.process_time()
    value = function(*args)
    return value, time.perf_counter() - started, time.process_time() - cpu_started


def main():
    host_count = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    link_count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    hosts, links, host_macs = build_fleet(host_count, link_count)
    end_count = sum(len(link['ends']) for link in links)
    print('fleet: %d hosts, %d links, %d ends (%d segments)' % (
        len(hosts), len(links), end_count, sum(1 for link in links if len(link['ends']) > 2)))

    errors, validate_seconds, validate_cpu = timed(_topology.validate_links, links, hosts)
    if errors:
        raise SystemExit('the generated fleet is invalid:\n%s' % _topology.TopologyErrors(errors[:10]))
    parts, expand_seconds, expand_cpu = timed(_topology.expand, links, host_macs)
    print('validate_links: %.2f s (%.2f s CPU)' % (validate_seconds, validate_cpu))
    print('expand:         %.2f s (%.2f s CPU; it validates too; %d host parts)' % (
        expand_seconds, expand_cpu, len(parts)))
    del parts

    # Peak memory separately: tracemalloc slows the code it watches.
    tracemalloc.start()
    _topology.validate_links(links, hosts)
    validate_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    parts = _topology.expand(links, host_macs)
    expand_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print('peak traced memory: validate_links %.1f MiB, expand %.1f MiB (its result included)' % (
        validate_peak / 2 ** 20, expand_peak / 2 ** 20))
    # ru_maxrss is in KiB on Linux.
    print('process max RSS: %.1f MiB (Python, the fleet, and the parts of %d hosts)' % (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(parts)))


if __name__ == '__main__':
    main()
