# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The role l2sec.macsec.pki end to end on the controller itself (two inventory hosts, connection local).

The lab scenario molecule/pki proves the same on VMs; this runs in seconds: first run, second run unchanged,
check mode, a SAN change, revocation with `openssl verify -crl_check`, and the host keys never in the CA dir.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys

import pytest
import yaml

from ansible_collections.l2sec.macsec.plugins.module_utils import _pki
from ansible_collections.l2sec.macsec.tests.unit.playbook_env import TREE, ansible_playbook, collections_path

HOSTS = ('host1', 'host2')
PLAYBOOK = """
- name: The fleet PKI
  hosts: all
  gather_facts: false
  roles:
    - role: l2sec.macsec.pki
"""


class Fleet:
    def __init__(self, folder, playbook=PLAYBOOK, extra_vars=None):
        self.folder = folder
        self.ca_dir = folder / 'ca'
        hosts = {host: {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
                        'pki_host_dir': str(folder / host)} for host in HOSTS}
        (folder / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': hosts, 'vars': {
            'pki_dir': str(self.ca_dir),
            'macsec_links': [{'name': 'l1', 'provider': 'kernel', 'ends': [
                {'host': 'host1', 'interface': 'eth1', 'address': '10.0.1.1/24'},
                {'host': 'host2', 'interface': 'eth1', 'address': '10.0.1.2/24'}]}], **(extra_vars or {})}}}),
            encoding='utf-8')
        (folder / 'site.yml').write_text(playbook, encoding='utf-8')
        (folder / 'ansible.cfg').write_text('[defaults]\nforks = 5\n', encoding='utf-8')

    def run(self, *options, extra=None):
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections_path()),
                   ANSIBLE_CONFIG=str(self.folder / 'ansible.cfg'),
                   ANSIBLE_HOME=str(self.folder / 'ansible-home'), ANSIBLE_LOCAL_TEMP=str(self.folder / 'tmp'),
                   ANSIBLE_NOCOLOR='1', ANSIBLE_STDOUT_CALLBACK='default', ANSIBLE_RETRY_FILES_ENABLED='False')
        argv = [ansible_playbook(), '-i', str(self.folder / 'inventory.yml'), str(self.folder / 'site.yml')]
        argv += list(options)
        if extra:
            argv += ['-e', yaml.safe_dump(extra, default_flow_style=True).strip()]
        process = subprocess.run(argv, cwd=self.folder, env=env, capture_output=True, text=True, timeout=300,
                                 check=False)
        output = process.stdout + process.stderr
        assert process.returncode == 0, output[-4000:]
        return output

    def cert(self, host):
        return _pki.load_certificate((self.folder / host / 'host.pem').read_bytes())


def recap(output):
    """host -> (changed, failed) from the play recap."""
    return {match.group(1): (int(match.group(2)), int(match.group(3)))
            for match in re.finditer(r'^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)', output, re.M)}


def openssl_verify(folder, host, crl=False):
    argv = ['openssl', 'verify', '-CAfile', str(folder / host / 'ca.pem')]
    if crl:
        argv += ['-crl_check', '-CRLfile', str(folder / host / 'crl.pem')]
    process = subprocess.run(argv + [str(folder / host / 'host.pem')], capture_output=True, text=True, check=False)
    return process.returncode, process.stdout + process.stderr


@pytest.mark.playbook
def test_pki_role_converges_is_idempotent_and_revokes(tmp_path):
    if ansible_playbook() is None:
        pytest.skip('ansible-playbook is not installed beside %s nor on PATH' % sys.executable)
    fleet = Fleet(tmp_path)

    planned = fleet.run('--check', '--diff')
    assert sorted(recap(planned)) == list(HOSTS)
    assert all(changed > 0 and failed == 0 for changed, failed in recap(planned).values())
    assert 'certificate (the CA does not exist yet)' in planned
    assert not fleet.ca_dir.exists() and not (tmp_path / 'host1').exists()  # check mode wrote nothing

    first = fleet.run('--diff')
    assert all(changed > 0 for changed, failed in recap(first).values())
    modes = {name: stat.S_IMODE(os.stat(tmp_path / 'host1' / name).st_mode)
             for name in ('host.key', 'host.pem', 'ca.pem', 'crl.pem')}
    assert modes == {'host.key': 0o600, 'host.pem': 0o644, 'ca.pem': 0o644, 'crl.pem': 0o644}
    assert stat.S_IMODE(os.stat(fleet.ca_dir).st_mode) == 0o700
    cert = fleet.cert('host1')
    assert _pki.names_of(cert) == (['host1'], ['10.0.1.1'])  # the link's address without its prefix
    assert 'PRIVATE KEY' not in first

    second = fleet.run('--diff')
    assert recap(second) == {'host1': (0, 0), 'host2': (0, 0)}, second[-3000:]

    # The host keys never went to the controller's CA directory (compared by public key).
    host_keys = {_pki.public_key_fingerprint(_pki.load_private_key((tmp_path / host / 'host.key').read_bytes())
                                             .public_key()) for host in HOSTS}
    for path in fleet.ca_dir.iterdir():
        for block in re.findall(r'-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----',
                                path.read_text(errors='replace'), re.S):
            assert _pki.public_key_fingerprint(_pki.load_private_key(block.encode()).public_key()) not in host_keys

    # New names: a new certificate for host1 only; its old one goes on the CRL that both hosts get.
    renamed = fleet.run('--diff', extra={'pki_dns_names': ['{{ inventory_hostname }}', '{{ inventory_hostname }}.lab']})
    assert 'the subject alternative names changed' in renamed
    assert fleet.cert('host1').serial_number != cert.serial_number
    assert '%x' % cert.serial_number in _pki.crl_serials(_pki.load_crl((tmp_path / 'host2' / 'crl.pem').read_bytes()))

    if shutil.which('openssl') is None:
        pytest.skip('openssl is not installed: the revocation check below needs it')
    assert openssl_verify(tmp_path, 'host1', crl=True)[0] == 0
    shutil.copy(tmp_path / 'host2' / 'host.pem', tmp_path / 'host2-copy.pem')
    revoked = fleet.run('--diff', '--limit', 'host1', extra={'pki_revoked_hosts': ['host2']})
    assert recap(revoked)['host1'][0] > 0
    code, text = openssl_verify(tmp_path, 'host1', crl=True)
    assert code == 0, text
    process = subprocess.run(['openssl', 'verify', '-crl_check', '-CAfile', str(tmp_path / 'host1' / 'ca.pem'),
                              '-CRLfile', str(tmp_path / 'host1' / 'crl.pem'), str(tmp_path / 'host2-copy.pem')],
                             capture_output=True, text=True, check=False)
    assert process.returncode != 0 and 'certificate revoked' in process.stdout + process.stderr


def site_pki_play():
    """playbooks/site.yml's PKI play as it is, but for become (the hosts are the controller itself)."""
    plays = yaml.safe_load((TREE / 'playbooks' / 'site.yml').read_text(encoding='utf-8'))
    play = next(play for play in plays if play.get('name', '').startswith('PKI'))
    return yaml.safe_dump([dict(play, become=False)], sort_keys=False)


@pytest.mark.playbook
def test_site_pki_play_serves_the_hosts_that_need_a_certificate_when_the_first_needs_none(tmp_path):
    # host1, first in the play, has only a static-key link; host2 ends an IKE link with certificates. The CA's
    # run_once tasks must run on host2 (a role `when` false on the first host would skip them for every host).
    if ansible_playbook() is None:
        pytest.skip('ansible-playbook is not installed beside %s nor on PATH' % sys.executable)
    plan = {'hosts': {'host1': {'links': [{'options': {'ipsec': None}}]},
                      'host2': {'links': [{'options': {'ipsec': {'auth': 'pubkey'}}}]}}}
    fleet = Fleet(tmp_path, playbook=site_pki_play(), extra_vars={'macsec_plan': plan})
    output = fleet.run()
    assert recap(output)['host1'] == (0, 0) and recap(output)['host2'][1] == 0, output[-3000:]
    assert fleet.cert('host2') is not None and (tmp_path / 'host2' / 'crl.pem').exists()
    assert not (tmp_path / 'host1').exists()  # nothing for the host that needs no certificate
