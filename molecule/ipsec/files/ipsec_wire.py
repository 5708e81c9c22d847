"""Captures on several interfaces of one host while it pings a peer, and prints what each capture held, as JSON.

Usage: ipsec_wire.py PEER PATTERN_HEX PING_SIZE DF(0|1) IFACE [IFACE ...]
For each interface: the EtherTypes seen, the IPv4 protocols with their addresses, IPv4 fragments, and how many
frames held the ping's payload pattern; and how many of the 10 pings came back. It shows what travels where: MACsec
on a parent NIC, ESP inside a macsec interface, ESP on an underlay, MACsec inside a tunnel.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ETHERTYPE_IPV4 = 0x0800
IP_FRAGMENT_BITS = 0x3FFF  # MF flag and fragment offset


def frames(path):
    """The frames of a classic pcap file (what tcpdump -w writes)."""
    with open(path, 'rb') as handle:
        data = handle.read()
    if len(data) < 24:
        return
    endian = '<' if struct.unpack('<I', data[:4])[0] in (0xA1B2C3D4, 0xA1B23C4D) else '>'
    offset = 24
    while offset + 16 <= len(data):
        captured = struct.unpack(endian + 'IIII', data[offset:offset + 16])[2]
        offset += 16
        yield data[offset:offset + captured]
        offset += captured


def summary(path, pattern):
    ethertypes, protocols, fragments, with_pattern, count = {}, {}, 0, 0, 0
    for frame in frames(path):
        count += 1
        if pattern in frame:
            with_pattern += 1
        if len(frame) < 14:
            continue
        ethertype = struct.unpack('!H', frame[12:14])[0]
        ethertypes['0x%04x' % ethertype] = ethertypes.get('0x%04x' % ethertype, 0) + 1
        if ethertype == ETHERTYPE_IPV4 and len(frame) >= 34:
            key = '%d %s>%s' % (frame[23], socket.inet_ntoa(frame[26:30]), socket.inet_ntoa(frame[30:34]))
            protocols[key] = protocols.get(key, 0) + 1
            if struct.unpack('!H', frame[20:22])[0] & IP_FRAGMENT_BITS:
                fragments += 1
    return {'frames': count, 'ethertypes': ethertypes, 'ip': protocols, 'fragments': fragments,
            'with_pattern': with_pattern}


def start_capture(interface, directory):
    path = os.path.join(directory, interface + '.pcap')
    process = subprocess.Popen(['tcpdump', '-i', interface, '-s', '0', '-U', '-n', '-w', path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return process, path


def wait_started(captures, timeout=20):
    """tcpdump writes the file header once it listens: wait for every one (slow under emulation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(os.path.exists(path) and os.path.getsize(path) >= 24 for dummy, path in captures.values()):
            time.sleep(0.5)
            return
        time.sleep(0.2)
    raise SystemExit('tcpdump did not start on %s' % ', '.join(captures))


def main():
    peer, pattern_hex, size, df = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == '1'
    interfaces = sys.argv[5:]
    with tempfile.TemporaryDirectory() as directory:
        captures = {name: start_capture(name, directory) for name in interfaces}
        wait_started(captures)
        argv = ['ping', '-c', '10', '-i', '0.2', '-W', '3', '-p', pattern_hex, '-s', str(size), peer]
        if df:
            argv[1:1] = ['-M', 'do']
        ping = subprocess.run(argv, capture_output=True, text=True, check=False)
        time.sleep(1)
        for process, dummy in captures.values():
            process.send_signal(signal.SIGINT)
        for process, dummy in captures.values():
            process.wait(timeout=20)
        pattern = bytes.fromhex(pattern_hex) * 2
        result = {name: summary(path, pattern) for name, (dummy, path) in captures.items()}
    received = 0
    for line in ping.stdout.splitlines():
        if 'packets transmitted' in line:
            received = int(line.split(',')[1].split()[0])
    print(json.dumps({'ping': {'argv': ' '.join(argv), 'received': received, 'rc': ping.returncode,
                               'stderr': ping.stderr.strip()},
                      'captures': result}, indent=1, sort_keys=True))


if __name__ == '__main__':
    main()
