# SPDX-License-Identifier: GPL-3.0-or-later
"""Look for given private keys in files, by content, without ever being given the keys.

Every PEM private key block in every file under the given paths (also blocks whose newlines are escaped as in a
JSON log) is loaded and its public key fingerprinted (SHA-256 of the SubjectPublicKeyInfo DER, as
`openssl pkey -pubout -outform DER | sha256sum`); a match with a --fingerprint is a private key found.

  find_private_keys.py --fingerprint sha256:HEX [...] PATH...   -> JSON {files, private_key_blocks, matches}
  find_private_keys.py --plant DIR                               -> plants a throw-away key, prints its fingerprint
"""

import argparse
import hashlib
import json
import os
import re
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

BLOCK = re.compile(r'-----BEGIN ([A-Z ]*)PRIVATE KEY-----(.*?)-----END \1PRIVATE KEY-----', re.S)


def fingerprint(private_key):
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return 'sha256:' + hashlib.sha256(der).hexdigest()


def blocks(text):
    """Every private key PEM block, with real newlines and with newlines escaped (\\n) as JSON writes them."""
    for candidate in (text, text.replace('\\n', '\n')):
        for match in BLOCK.finditer(candidate):
            yield match.group(0)


def files(paths):
    for path in paths:
        if os.path.isfile(path):
            yield path
        for root, dummy, names in os.walk(path):
            for name in names:
                yield os.path.join(root, name)


def scan(paths, wanted):
    seen_files, seen_blocks, matches = set(), 0, []
    for path in files(paths):
        real = os.path.realpath(path)
        if real in seen_files or not os.path.isfile(real):
            continue
        seen_files.add(real)
        with open(real, 'rb') as handle:
            text = handle.read().decode('utf-8', 'replace')
        for block in set(blocks(text)):
            seen_blocks += 1
            try:
                key = serialization.load_pem_private_key(block.encode(), password=None)
            except (ValueError, TypeError):
                continue  # encrypted or damaged: not one of ours (ours are unencrypted PKCS#8)
            if fingerprint(key) in wanted:
                matches.append(path)
    return {'files': len(seen_files), 'private_key_blocks': seen_blocks, 'matches': sorted(matches)}


def plant(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with open(os.path.join(directory, 'planted.pem'), 'w', encoding='ascii') as handle:
        handle.write(pem)
    with open(os.path.join(directory, 'planted-log.json'), 'w', encoding='ascii') as handle:
        handle.write(json.dumps({'msg': 'a careless task result', 'content': pem}))
    return fingerprint(key)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--fingerprint', action='append', default=[])
    parser.add_argument('--plant', metavar='DIR')
    parser.add_argument('paths', nargs='*')
    args = parser.parse_args()
    if args.plant:
        print(plant(args.plant))
        return 0
    if not args.fingerprint or not args.paths:
        parser.error('give --fingerprint and paths')
    print(json.dumps(scan(args.paths, set(args.fingerprint))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
