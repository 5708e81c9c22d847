"""Measures how long an MKA port takes to be secured, and prints the evidence as JSON.

Usage: mka_secured.py PARENT CTRL_DIR UNIT [--restart] [--timeout SECONDS]
With --restart it restarts UNIT first and times from that moment; without, it times from the unit's own start
(ActiveEnterTimestampMonotonic: after a reboot, the time since the unit started, an upper bound when the port was
already secured at the first look). "Secured" is wpa_supplicant's `Secured=Yes`, not `Authenticated`.
"""

import json
import subprocess
import sys
import time


def status(parent, ctrl_dir):
    done = subprocess.run(['wpa_cli', '-p', ctrl_dir, '-i', parent, 'status'], capture_output=True, text=True,
                          check=False)
    fields = {}
    for line in done.stdout.splitlines():
        key, sep, value = line.partition('=')
        if sep and key not in fields and key not in ('ckn', 'mi'):  # the CKN is a secret here
            fields[key] = value
    return fields


def monotonic_now():
    # /proc/uptime and systemd's monotonic timestamps share CLOCK_MONOTONIC... up to suspend, which VMs do not do.
    return time.clock_gettime(time.CLOCK_MONOTONIC)


def unit_started(unit):
    out = subprocess.run(['systemctl', 'show', '-p', 'ActiveEnterTimestampMonotonic', '--value', unit],
                         capture_output=True, text=True, check=True).stdout.strip()
    return int(out) / 1e6


def main(argv):
    parent, ctrl_dir, unit = argv[:3]
    timeout = float(argv[argv.index('--timeout') + 1]) if '--timeout' in argv else 60.0
    if '--restart' in argv:
        start = monotonic_now()
        subprocess.run(['systemctl', 'restart', unit], check=True)
        first_look_secured = False
    else:
        start = unit_started(unit)
        first_look_secured = status(parent, ctrl_dir).get('Secured') == 'Yes'
    fields = {}
    while monotonic_now() - start < timeout:
        fields = status(parent, ctrl_dir)
        if fields.get('Secured') == 'Yes':
            break
        time.sleep(0.2)
    print(json.dumps({
        'secured': fields.get('Secured') == 'Yes',
        'seconds': round(monotonic_now() - start, 1),
        'upper_bound': first_look_secured,
        'keys_distributed': int(fields.get('Number of Keys Distributed', 0)),
        'keys_received': int(fields.get('Number of Keys Received', 0)),
        'key_server_sci': fields.get('key_server_sci'),
    }))


if __name__ == '__main__':
    main(sys.argv[1:])
