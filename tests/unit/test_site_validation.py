# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The proof that site.yml contacts no host when the topology is invalid.

Each bad inventory of the corpus runs through `ansible-playbook playbooks/site.yml` with hosts that point at a
closed port of the loopback address (127.0.0.1:9, discard, over ssh): a contact would show as UNREACHABLE. The
run must fail, list every expected error, and never show UNREACHABLE. No traffic leaves the machine.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.l2sec.macsec.tests.unit.playbook_env import TREE, ansible_playbook, collections_path

CORPUS = sorted((TREE / 'tests' / 'unit' / 'topology_corpus' / 'bad').glob('*.yml'))
DEFAULT_HOSTS = ['node-a', 'node-b', 'node-c']
UNREACHABLE_HOST = {'ansible_connection': 'ssh', 'ansible_host': '127.0.0.1', 'ansible_port': 9,
                    'ansible_ssh_common_args': '-o ConnectTimeout=3'}
PARALLEL = 4


def write_inventory(folder, case):
    hosts = {host: dict(UNREACHABLE_HOST) for host in case.get('hosts', DEFAULT_HOSTS)}
    (folder / 'group_vars').mkdir(parents=True)
    (folder / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': hosts}}), encoding='utf-8')
    (folder / 'group_vars' / 'all.yml').write_text(yaml.safe_dump({'macsec_links': case['macsec_links']}),
                                                   encoding='utf-8')
    (folder / 'ansible.cfg').write_text('[defaults]\n', encoding='utf-8')


def run_site(playbook_command, collections, folder):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(collections),
        'ANSIBLE_CONFIG': str(folder / 'ansible.cfg'),
        'ANSIBLE_HOME': env.get('ANSIBLE_HOME') or str(folder / 'ansible-home'),
        'ANSIBLE_LOCAL_TEMP': str(folder / 'tmp'),
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        'ANSIBLE_CALLBACK_RESULT_FORMAT': 'json',
    })
    site = collections / 'ansible_collections' / 'l2sec' / 'macsec' / 'playbooks' / 'site.yml'
    process = subprocess.run([playbook_command, '-i', str(folder / 'inventory.yml'), str(site)], cwd=folder, env=env,
                             capture_output=True, text=True, timeout=300, check=False)
    return process.returncode, process.stdout + process.stderr


def judge(path, returncode, output):
    """What is wrong with one run, or None."""
    case = yaml.safe_load(path.read_text(encoding='utf-8'))
    problems = []
    if returncode == 0:
        problems.append('site.yml succeeded')
    if 'UNREACHABLE' in output:
        problems.append('a host was contacted (UNREACHABLE): the topology must be validated before any contact')
    summary = 'macsec_links has %d error(s)' % case['expected_count']
    if summary not in output:
        problems.append('%r not in the output' % summary)
    problems.extend('%r not in the output' % expected for expected in case['expected_errors']
                    if expected not in output)
    if not problems:
        return None
    return '%s: %s\n--- output (last 3000 characters) ---\n%s' % (path.name, '; '.join(problems), output[-3000:])


@pytest.mark.playbook
def test_site_refuses_every_bad_inventory_before_contacting_a_host(tmp_path):
    playbook_command = ansible_playbook()
    if playbook_command is None:
        pytest.skip('ansible-playbook is not installed beside %s nor on PATH' % sys.executable)
    collections = collections_path()
    assert len(CORPUS) >= 30
    runs = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for path in CORPUS:
            folder = tmp_path / path.stem
            write_inventory(folder, yaml.safe_load(path.read_text(encoding='utf-8')))
            runs[path] = pool.submit(run_site, playbook_command, collections, folder)
    failures = [judge(path, *future.result()) for path, future in runs.items()]
    failures = [failure for failure in failures if failure is not None]
    # The names of all, the output of the first three: one cause usually breaks them all alike.
    assert not failures, '%d of %d bad inventories failed: %s\n\n%s' % (
        len(failures), len(CORPUS), ', '.join(failure.split(':', 1)[0] for failure in failures),
        '\n\n'.join(failures[:3]))
