# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""The no-leak test: keys derived and used in a real play never reach stdout, the log file or the fact cache.

One `ansible-playbook -vvv --diff` run against localhost (connection local), with ANSIBLE_LOG_PATH set, the
jsonfile fact cache on, and task arguments shown in the banners (display_args_to_stdout). The play derives the keys
of three links with l2sec.macsec.macsec_keys (from a vaulted master secret, and explicit vaulted SAKs), writes them
to files and passes them to a command in no_log tasks, and shows and caches the (non-secret) fingerprints.

Every secret of the run (the master secret, every derived and explicit key) is searched in stdout, the log file
and the fact cache, as lowercase and uppercase hex and as standard and URL-safe base64 (at every byte
alignment). To prove the search can fail, a canary secret is leaked on purpose through every channel (a debug
without no_log, a cacheable fact) and must be found there, and the search itself is run on planted text first.
"""

from __future__ import annotations

import base64
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible_collections.l2sec.macsec.plugins.module_utils import _keys
from ansible_collections.l2sec.macsec.tests.unit.playbook_env import ansible_playbook, collections_path

MASTER = '9e' * 4 + 'd1c2b3a4f5e60718' * 3 + '2f3e4d5c'
EXPLICIT_SAKS = ['6b' * 2 + 'a5f00d' * 10, '7c' * 2 + 'b6e11e' * 10]  # 32 bytes each: gcm-aes-256
CANARY = 'c4a7a11e' * 4  # leaked on purpose: proves that stdout, the log and the cache are searched
VAULT_PASSWORD = 'no-leak-test-vault-password'

LINKS = [
    {'name': 'leak-xpn', 'provider': 'kernel', 'generation': 3, 'cipher': 'gcm-aes-xpn-256',
     'ends': [{'host': 'localhost', 'interface': 'eth1'}, {'host': 'node-b', 'interface': 'eth1'},
              {'host': 'node-c', 'interface': 'eth1'}]},
    {'name': 'leak-mka', 'provider': 'wpa_supplicant', 'ipsec': {'layering': 'ipsec_over_macsec', 'auth': 'psk'},
     'ends': [{'host': 'localhost', 'interface': 'eth2'}, {'host': 'node-b', 'interface': 'eth2'}]},
    {'name': 'leak-explicit', 'provider': 'kernel', 'cipher': 'gcm-aes-256',
     'ends': [{'host': 'localhost', 'interface': 'eth3', 'sak': '{{ vault_sak_a }}'},
              {'host': 'node-b', 'interface': 'eth3', 'sak': '{{ vault_sak_b }}'}]},
]

PLAYBOOK = r"""
- name: Derive keys and use them, the way provider roles do
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Derive the keys of this host's links
      l2sec.macsec.macsec_keys:
        links: "{{ macsec_links }}"
      register: leak_keys

    - name: Write each link's keys to a file, as a provider writes a daemon's configuration
      ansible.builtin.copy:
        dest: "{{ leak_out }}/{{ item }}.keys"
        content: "{{ leak_keys.material[item] | to_nice_json }}"
        mode: "0600"
      loop: "{{ leak_keys.material | list }}"
      no_log: true

    - name: Pass a key on a command line, as a provider calls ip macsec
      ansible.builtin.command:
        argv: [printf, '%s', "{{ leak_keys.material['leak-xpn'].tx.sak }}"]
      register: leak_command
      changed_when: false
      no_log: true

    - name: Compare a key inside a condition
      ansible.builtin.assert:
        that: leak_command.stdout == leak_keys.material['leak-xpn'].tx.sak
        quiet: true
      no_log: true

    - name: Show the fingerprints (allowed, they are one-way)
      ansible.builtin.debug:
        var: leak_keys.fingerprints

    - name: Cache the fingerprints and leak the canary through a cacheable fact
      ansible.builtin.set_fact:
        leak_fingerprints: "{{ leak_keys.fingerprints }}"
        leak_canary_fact: "{{ leak_canary }}"
        cacheable: true

    - name: Leak the canary to stdout and the log on purpose
      ansible.builtin.debug:
        msg: "canary {{ leak_canary }}"
"""


def needles(secret):
    """Every form of a secret to look for: the text itself, hex both cases, base64 both alphabets, all alignments.

    Base64 of a key inside a larger blob depends on where the key starts modulo 3 bytes: encode it after 0, 1 and
    2 filler bytes and keep the characters that depend on the key alone.
    """
    forms = {secret}
    raw = bytes.fromhex(secret) if _keys.HEX.match(secret) and len(secret) % 2 == 0 else secret.encode('utf-8')
    forms.update((raw.hex(), raw.hex().upper()))
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in range(3):
            text = encode(bytes(shift) + raw).decode('ascii')
            stable = text[4 if shift else 0:len(text) - 4]  # drop the characters that mix in neighbours
            forms.add(stable.rstrip('='))
    return {form for form in forms if len(form) >= 16}


def find_leaks(secrets, sources):
    """[(source name, secret fingerprint, form)] for every form of every secret found in any source."""
    found = []
    for secret in secrets:
        for form in needles(secret):
            for name, text in sources.items():
                if form in text:
                    found.append((name, _keys.fingerprint(secret), form[:6] + '...'))
    return found


def test_the_search_finds_each_planted_form():
    secret = '00ff10ee20dd30cc40bb50aa60997088'
    raw = bytes.fromhex(secret)
    for planted in (secret, secret.upper(), base64.b64encode(raw).decode(),
                    base64.urlsafe_b64encode(b'\xfb' + raw).decode(), base64.b64encode(b'ab' + raw + b'z').decode()):
        assert find_leaks([secret], {'text': 'before %s after' % planted}), planted
    assert find_leaks([secret], {'text': 'nothing here ' + secret[:-2]}) == []


# ---------------------------------------------------------------------------------------------------------------
# The run.

def vaulted(text):
    from ansible.parsing.vault import VaultLib, VaultSecret
    vault = VaultLib([('default', VaultSecret(VAULT_PASSWORD.encode('utf-8')))])
    return vault.encrypt(text).decode('ascii')


def write_inventory(folder):
    vars_dir = folder / 'group_vars' / 'all'
    vars_dir.mkdir(parents=True)
    (folder / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}), encoding='utf-8')
    (vars_dir / 'macsec.yml').write_text(yaml.safe_dump({
        'macsec_master_secret': '{{ vault_macsec_master_secret }}', 'macsec_links': LINKS,
        'leak_out': str(folder / 'out'), 'leak_canary': CANARY}), encoding='utf-8')
    vault_lines = ['%s: !vault |\n%s' % (name, ''.join('  %s\n' % line for line in vaulted(value).splitlines()))
                   for name, value in (('vault_macsec_master_secret', MASTER), ('vault_sak_a', EXPLICIT_SAKS[0]),
                                       ('vault_sak_b', EXPLICIT_SAKS[1]))]
    (vars_dir / 'vault.yml').write_text(''.join(vault_lines), encoding='utf-8')
    (folder / 'vault-password').write_text(VAULT_PASSWORD, encoding='utf-8')
    (folder / 'site.yml').write_text(PLAYBOOK, encoding='utf-8')
    (folder / 'out').mkdir()


def run_play(folder):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(collections_path()),
        'ANSIBLE_HOME': str(folder / 'ansible-home'),
        'ANSIBLE_LOCAL_TEMP': str(folder / 'tmp'),
        'ANSIBLE_LOG_PATH': str(folder / 'ansible.log'),
        'ANSIBLE_CACHE_PLUGIN': 'jsonfile',
        'ANSIBLE_CACHE_PLUGIN_CONNECTION': str(folder / 'facts'),
        'ANSIBLE_VAULT_PASSWORD_FILE': str(folder / 'vault-password'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_STDOUT_CALLBACK': 'default',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        'ANSIBLE_CONFIG': str(folder / 'ansible.cfg'),
        'ANSIBLE_DISPLAY_ARGS_TO_STDOUT': 'True',  # stricter than the default: task arguments in every banner
    })
    (folder / 'ansible.cfg').write_text('[defaults]\n', encoding='utf-8')
    return subprocess.run([ansible_playbook(), '-vvv', '--diff', '-i', str(folder / 'inventory.yml'),
                           str(folder / 'site.yml')], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def every_secret_of_the_run():
    master = _keys.master_secret_bytes(MASTER)
    secrets = [MASTER] + list(EXPLICIT_SAKS)
    for link in LINKS:
        resolved = dict(link, ends=[dict(end, sak={'{{ vault_sak_a }}': EXPLICIT_SAKS[0],
                                                   '{{ vault_sak_b }}': EXPLICIT_SAKS[1]}.get(end.get('sak')))
                                    for end in link['ends']])
        for host in ('localhost', 'node-b'):
            secrets.extend(_keys.secrets_of(_keys.link_material(_keys.link_from_inventory(resolved), host, master)))
    return sorted(set(secrets))


def read_tree(path):
    """The text of a file, or of every file under a folder."""
    path = pathlib.Path(path)
    texts = []
    for path in [path] if path.is_file() else sorted(path.rglob('*')) if path.exists() else ():
        if path.is_file():
            texts.append(path.read_text(encoding='utf-8', errors='replace'))
    return '\n'.join(texts)


@pytest.mark.playbook
def test_no_key_reaches_stdout_the_log_or_the_fact_cache(tmp_path):
    if ansible_playbook() is None:
        pytest.skip('ansible-playbook is not installed beside %s nor on PATH' % sys.executable)
    write_inventory(tmp_path)
    process = run_play(tmp_path)
    stdout = process.stdout + process.stderr
    assert process.returncode == 0, stdout[-4000:]
    sources = {'stdout': stdout, 'log file': read_tree(tmp_path / 'ansible.log'),
               'fact cache': read_tree(tmp_path / 'facts')}
    secrets = every_secret_of_the_run()
    assert len(secrets) == 10  # the master, 2 explicit SAKs, 3 XPN SAKs and the salt, the CAK, CKN and IKE PSK

    # The channels are real and searched: the canary leaked on purpose is found in each of them.
    for name in sources:
        assert find_leaks([CANARY], {name: sources[name]}), 'the canary is missing from the %s' % name
    # The keys were really derived and used: the no_log tasks wrote them where they belong.
    written = read_tree(tmp_path / 'out')
    assert all(find_leaks([secret], {'out': written}) for secret in secrets if secret != MASTER)
    assert 'leak-xpn' in sources['fact cache'] and 'sha256:' in sources['fact cache']
    assert 'ESTABLISH LOCAL CONNECTION' in stdout  # the run was verbose (-vvv)

    leaks = find_leaks(secrets, sources)
    assert leaks == [], 'secrets leaked (source, fingerprint, start of the form): %s' % leaks
