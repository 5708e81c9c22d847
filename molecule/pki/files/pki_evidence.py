# SPDX-License-Identifier: GPL-3.0-or-later
"""Evidence about a host's PKI files, as JSON on stdout (run in a lab VM by molecule/pki/verify.yml).

Public facts only: openssl's verdicts, modes, the public-key fingerprint, the certificate (public) and its serial.
"""

import hashlib
import json
import os
import pwd
import stat
import subprocess
import sys


def run(argv, data=None):
    process = subprocess.run(argv, input=data, capture_output=True, check=False)
    return process.returncode, process.stdout, process.stderr


def main(directory):
    def path(name):
        return os.path.join(directory, name)

    rc, out, err = run(['openssl', 'verify', '-CAfile', path('ca.pem'), path('host.pem')])
    verify = {'rc': rc, 'output': (out + err).decode()}
    rc, out, err = run(['openssl', 'verify', '-crl_check', '-CAfile', path('ca.pem'), '-CRLfile', path('crl.pem'),
                        path('host.pem')])
    verify_crl = {'rc': rc, 'output': (out + err).decode()}
    rc, der, err = run(['openssl', 'pkey', '-in', path('host.key'), '-pubout', '-outform', 'DER'])
    key_stat = os.stat(path('host.key'))
    rc_serial, serial, err = run(['openssl', 'x509', '-in', path('host.pem'), '-noout', '-serial'])
    rc_crl, crl_text, err = run(['openssl', 'crl', '-in', path('crl.pem'), '-noout', '-text'])
    crl_serials = [line.split(':', 1)[1].strip().lower() for line in crl_text.decode().splitlines()
                   if line.strip().startswith('Serial Number:')]
    with open(path('host.pem'), encoding='ascii') as handle:
        certificate = handle.read()
    print(json.dumps({
        'verify': verify,
        'verify_crl': verify_crl,
        'key_mode': '%o' % stat.S_IMODE(key_stat.st_mode),
        'key_owner': pwd.getpwuid(key_stat.st_uid).pw_name,
        'public_mode': {name: '%o' % stat.S_IMODE(os.stat(path(name)).st_mode)
                        for name in ('host.pem', 'ca.pem', 'crl.pem')},
        'public_key_fingerprint': 'sha256:' + hashlib.sha256(der).hexdigest() if rc == 0 else None,
        # openssl prints serials in uppercase hex with a leading zero when needed; compare in lowercase, unpadded.
        'serial': serial.decode().strip().split('=', 1)[1].lower().lstrip('0') if rc_serial == 0 else None,
        'crl_serials': [item.lstrip('0') for item in crl_serials],
        'certificate': certificate,
    }))


if __name__ == '__main__':
    main(sys.argv[1])
