"""Reads the packet numbers of MACsec frames off the wire: first and last PN per (source MAC, AN).

Usage: pcap_pns.py [--stop-tcpdump] PCAP_FILE [PCAP_FILE ...]   (run in a VM; prints JSON)
--stop-tcpdump first ends the running captures (SIGINT, so that they flush their files).

A MACsec frame is dst(6) src(6) 0x88e5 TCI/AN(1) SL(1) PN(4) [SCI(8)] ...; the PN field holds the PN, or the
lower 32 bits of an XPN PN. The capture, not the kernel, is the witness here: these are the PNs that really
crossed the wire.
"""

import json
import struct
import subprocess
import sys
import time

MACSEC = 0x88E5
PCAP_MAGIC = {b'\xd4\xc3\xb2\xa1': '<', b'\xa1\xb2\xc3\xd4': '>', b'\x4d\x3c\xb2\xa1': '<', b'\xa1\xb2\x3c\x4d': '>'}


def frames(path):
    with open(path, 'rb') as handle:
        data = handle.read()
    if len(data) < 24:
        return
    order = PCAP_MAGIC.get(data[:4])
    if order is None:
        raise SystemExit('%s is not a pcap file' % path)
    offset = 24
    while offset + 16 <= len(data):
        dummy, dummy, captured, dummy = struct.unpack(order + 'IIII', data[offset:offset + 16])
        offset += 16
        yield data[offset:offset + captured]
        offset += captured


def summary(paths):
    seen = {}
    for path in paths:
        for frame in frames(path):
            if len(frame) < 20 or struct.unpack('!H', frame[12:14])[0] != MACSEC:
                continue
            source = ':'.join('%02x' % byte for byte in frame[6:12])
            an = frame[14] & 0x03
            pn = struct.unpack('!I', frame[16:20])[0]
            entry = seen.setdefault('%s/%d' % (source, an), {'source': source, 'an': an, 'count': 0,
                                                             'first_pn': pn, 'last_pn': pn, 'max_pn': pn})
            entry['count'] += 1
            entry['last_pn'] = pn
            entry['max_pn'] = max(entry['max_pn'], pn)
    return seen


def main(argv):
    if argv and argv[0] == '--stop-tcpdump':
        time.sleep(1)
        subprocess.run(['pkill', '-INT', '-x', 'tcpdump'], check=False)
        time.sleep(1)
        argv = argv[1:]
    print(json.dumps(summary(argv), sort_keys=True))


if __name__ == '__main__':
    main(sys.argv[1:])
