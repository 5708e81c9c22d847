"""Proves on one host that a MACsec link really protects traffic, and prints the evidence as JSON.

Usage: lab_link_check.py LINK PARENT PEER_ADDRESS PATTERN_HEX
It captures on the parent NIC while pinging the peer over the MACsec interface with a payload pattern, and
reads the SecY's counters before and after. Both ends run it at the same time, so each capture holds the
frames the host sent and the frames it received.
"""

import json
import re
import subprocess
import sys
import tempfile
import time

MACSEC_ETHERTYPE = 0x88E5


def run(argv):
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


def link_settings(link):
    info = json.loads(run(['ip', '-d', '-j', 'link', 'show', link]))[0]['linkinfo']
    return info['info_kind'], info.get('info_data', {})


def secy_counters(link):
    """Sums of OutPktsEncrypted (TX SAs) and InPktsOK (RX SAs) from `ip -s macsec show` tables."""
    lines = run(['ip', '-s', 'macsec', 'show', link]).splitlines()
    totals = {'OutPktsEncrypted': 0, 'InPktsOK': 0}
    for header, values in zip(lines, lines[1:]):
        if not header.strip().startswith('stats:'):
            continue
        names = header.split()[1:]
        numbers = values.split()
        # SA-level tables follow an "N: PN ..." line; SC-level tables repeat the same counters as sums.
        for name, number in zip(names, numbers):
            if name in totals and number.isdigit():
                totals[name] = max(totals[name], int(number))
    return totals


def pcap_frames(path):
    """(ethertype, frame bytes) of each frame of a classic pcap file with Ethernet link type."""
    with open(path, 'rb') as handle:
        data = handle.read()
    frames, offset = [], 24
    while offset + 16 <= len(data):
        captured = int.from_bytes(data[offset + 8:offset + 12], 'little')
        frame = data[offset + 16:offset + 16 + captured]
        frames.append((int.from_bytes(frame[12:14], 'big'), frame))
        offset += 16 + captured
    return frames


def main(link, parent, peer, pattern):
    kind, settings = link_settings(link)
    before = secy_counters(link)
    with tempfile.NamedTemporaryFile(suffix='.pcap') as capture:
        sniffer = subprocess.Popen(['tcpdump', '-i', parent, '-U', '-w', capture.name, '-s', '0'],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        ping = subprocess.run(['ping', '-c', '10', '-i', '0.2', '-W', '2', '-p', pattern, peer],
                              capture_output=True, text=True, check=False)
        time.sleep(2)
        sniffer.terminate()
        sniffer.wait()
        frames = pcap_frames(capture.name)
    after = secy_counters(link)
    received = re.search(r'(\d+) received', ping.stdout)
    print(json.dumps({
        'kind': kind,
        'encrypt': settings.get('encrypt'),
        'ping_received': int(received.group(1)) if received else 0,
        'frames': len(frames),
        'macsec_frames': sum(1 for ethertype, dummy in frames if ethertype == MACSEC_ETHERTYPE),
        'other_ethertypes': sorted({'0x%04x' % ethertype for ethertype, dummy in frames if ethertype != MACSEC_ETHERTYPE}),
        'pattern_on_wire': any(bytes.fromhex(pattern) in frame for dummy, frame in frames),
        'counters_before': before,
        'counters_after': after,
    }))


if __name__ == '__main__':
    main(*sys.argv[1:5])
