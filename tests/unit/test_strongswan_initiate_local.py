# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The strongswan role's tasks/initiate.yml run for real by ansible-playbook on the controller, against a fake
`swanctl` that keeps its IKE SAs in files: the initiator brings up the connections that have no IKE SA, ends all
but the newest where a connection has two or more (both ends' traps can start one at once), and leaves a single
IKE SA alone, also when swanctl's listing comes in more than one write (a `grep -q` under `pipefail` read that as
"no IKE SA" and initiated again). A second run changes nothing.

The lab cannot make two IKE SAs on demand (`unique = replace` ends one unless both are made at the same moment),
so this is where the ending of duplicates is shown; the ipsec scenario shows the rest of the role on real charon.
"""

from __future__ import annotations

import os
import subprocess
import sys

import yaml

from ansible_collections.l2sec.macsec.tests.unit.playbook_env import ansible_playbook, collections_path

# A fake swanctl: the IKE SAs of connection C are the lines of $FAKE_SWANCTL/C (their unique ids); every call is
# logged to $FAKE_SWANCTL/calls.
FAKE_SWANCTL = r'''#!/bin/bash
state=$FAKE_SWANCTL
echo "$*" >> "$state/calls"
case "$1" in
  --list-sas)
    conn=$3
    [ -f "$state/$conn" ] || exit 0
    while read -r id; do
      echo "$conn: #$id, ESTABLISHED, IKEv2, 0123456789abcdef_i* fedcba9876543210_r"
      # More comes later, as from a real swanctl with a long listing: a reader that stops at the first line (grep
      # -q) gets this writer killed by SIGPIPE, which `set -o pipefail` turns into "no IKE SA".
      sleep 0.05
      echo "  established 10s ago"
    done < "$state/$conn" ;;
  --terminate)
    for file in "$state"/l2sec-*; do sed -i "/^$3\$/d" "$file"; done ;;
  --initiate)
    conn=$3
    last=$(cat "$state"/l2sec-* 2>/dev/null | sort -n | tail -1)
    echo $(( ${last:-0} + 1 )) >> "$state/$conn" ;;
esac
'''

PLAYBOOK = """
- name: Bring the IKE SAs up from the initiator
  hosts: localhost
  gather_facts: false
  environment:
    PATH: "{{ fake_bin }}:{{ ansible_env_path }}"
    FAKE_SWANCTL: "{{ fake_state }}"
  tasks:
    - name: The role's initiate tasks
      ansible.builtin.include_role:
        name: l2sec.macsec.strongswan
        tasks_from: initiate.yml
      vars:
        strongswan_up_layerings: [macsec_over_ipsec]
"""


def plan_entry(link):
    """A host's plan entry for a macsec_over_ipsec link where the host is the first end (the initiator)."""
    return {'name': link, 'provider': 'wpa_supplicant',
            'options': {'ipsec': {'layering': 'macsec_over_ipsec', 'auth': 'psk', 'rekey_time': 3600,
                                  'ike_rekey_time': 14400, 'dpd_delay': 30}},
            'end': {'index': 0, 'host': 'localhost', 'underlay': '192.0.2.1'},
            'peers': [{'index': 1, 'host': 'peer', 'underlay': '192.0.2.2', 'address': '198.51.100.2/30'}]}


def run(tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path()), ANSIBLE_HOME=str(tmp_path / 'home'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default',
               ANSIBLE_RETRY_FILES_ENABLED='False', ANSIBLE_LOCALHOST_WARNING='False',
               ANSIBLE_INVENTORY_UNPARSED_WARNING='False')
    extra = {'fake_bin': str(tmp_path / 'bin'), 'fake_state': str(tmp_path / 'state'),
             'ansible_env_path': os.environ.get('PATH', '/usr/bin:/bin'),
             'ansible_python_interpreter': sys.executable, 'strongswan_initiate_timeout': 5,
             'strongswan_plan': {'hosts': {'localhost': {'links': [plan_entry(link)
                                                                   for link in ('two', 'none', 'one')]}}}}
    (tmp_path / 'extra.yml').write_text(yaml.safe_dump(extra), encoding='utf-8')
    process = subprocess.run([ansible_playbook(), '-i', 'localhost,', '-c', 'local', '-e', '@' + str(tmp_path / 'extra.yml'),
                              str(tmp_path / 'play.yml'), '-v'],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    return process.stdout


def sas(tmp_path, conn):
    path = tmp_path / 'state' / conn
    return path.read_text(encoding='utf-8').split() if path.exists() else []


def test_initiator_brings_up_missing_ike_sas_and_ends_all_but_the_newest_duplicate(tmp_path):
    (tmp_path / 'bin').mkdir()
    (tmp_path / 'state').mkdir()
    swanctl = tmp_path / 'bin' / 'swanctl'
    swanctl.write_text(FAKE_SWANCTL, encoding='utf-8')
    swanctl.chmod(0o755)
    (tmp_path / 'play.yml').write_text(PLAYBOOK, encoding='utf-8')
    # Three IKE SAs of l2sec-two-1 (listed out of order), none of l2sec-none-1, one of l2sec-one-1.
    (tmp_path / 'state' / 'l2sec-two-1').write_text('7\n12\n9\n', encoding='utf-8')
    (tmp_path / 'state' / 'l2sec-one-1').write_text('20\n', encoding='utf-8')

    first = run(tmp_path)
    assert 'changed: [localhost]' in first
    assert 'ended duplicate l2sec-two-1 #7' in first and 'ended duplicate l2sec-two-1 #9' in first
    assert 'initiated l2sec-none-1' in first
    assert sas(tmp_path, 'l2sec-two-1') == ['12']
    assert sas(tmp_path, 'l2sec-none-1') == ['21']
    assert sas(tmp_path, 'l2sec-one-1') == ['20']
    calls = (tmp_path / 'state' / 'calls').read_text(encoding='utf-8').splitlines()
    assert [call for call in calls if call.startswith(('--terminate', '--initiate'))] == [
        '--terminate --ike-id 7 --timeout 5', '--terminate --ike-id 9 --timeout 5',
        '--initiate --child l2sec-none-1 --timeout 5']

    second = run(tmp_path)
    assert 'changed: [localhost]' not in second and 'ok: [localhost]' in second, second
    assert [sas(tmp_path, conn) for conn in ('l2sec-two-1', 'l2sec-none-1', 'l2sec-one-1')] == [['12'], ['21'], ['20']]
