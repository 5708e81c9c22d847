#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: macsec_secret_file
short_description: Write a configuration file that holds secrets, with a diff that shows their fingerprints
version_added: 0.1.0
description:
  - Writes O(content), with each C(@@NAME@@) replaced by the secret O(secrets[NAME]), to O(path) (atomically, with
    O(mode)) when it differs.
  - A daemon's configuration that holds a key (wpa_supplicant's C(mka_cak) and C(mka_ckn)) cannot go through
    M(ansible.builtin.template) with C(--diff) without the key in the output, and C(no_log) hides the whole diff,
    so drift in its other options goes unseen. Here only O(secrets) is C(no_log); the diff shows the file before and
    after with the value of every C(key=value) line whose key is in O(secret_keys) replaced by a one-way fingerprint
    (C(sha256:...)). So C(--check --diff) names a changed option, and a changed key only as a changed fingerprint.
author:
  - l2sec.macsec maintainers (@l2sec)
extends_documentation_fragment:
  - l2sec.macsec.key_lifecycle
attributes:
  check_mode:
    description: Reports whether the file would change, and the masked diff.
    support: full
  diff_mode:
    description: Before and after, with the values of O(secret_keys) as fingerprints.
    support: full
options:
  path:
    description: The file.
    type: path
    required: true
  content:
    description:
      - What the file must hold (rendered on the controller, e.g. with the template lookup), with C(@@NAME@@) where
        the secret O(secrets[NAME]) goes. It must hold no secret itself.
    type: str
    required: true
  secrets:
    description: The secrets, by the names that O(content) uses.
    type: dict
    default: {}
  secret_keys:
    description: The keys of C(key=value) lines (blanks and tabs before the key allowed) whose values are secret.
    type: list
    elements: str
    default: []
  mode:
    description: The file's mode, set also when the content is unchanged.
    type: raw
    default: "0600"
  confirm_timeout:
    description:
      - Commit-confirmed (docs/lockout.md), for the configuration of a daemon whose change may cut the path the
        controller uses to reach the host (an MKA port). With a value above V(0), a change of the file first keeps
        the file as it is, with O(confirm_units), as the pending change of O(confirm_name), and arms a host-side timer
        (C(l2sec-rollback-<confirm_name>.timer)) that restores it and restarts O(confirm_units) (stops them, when the
        file is new) after this many seconds, unless M(l2sec.macsec.macsec_confirm) V(commit) comes first.
      - The timer runs the host agent that M(l2sec.macsec.macsec_agent) installs.
    type: int
    default: 0
  confirm_name:
    description:
      - The name of the pending change (the port's macsec interface, or C(ike-LINK) for a link's swanctl file).
        Required with O(confirm_timeout).
    type: str
  confirm_units:
    description: The systemd units that run with the file, restarted by a rollback.
    type: list
    elements: str
    default: []
  confirm_ike:
    description:
      - For a strongSwan configuration (swanctl files, one per link), the IKE connections the file holds. Instead of
        restarting units, a rollback loads the restored files (C(swanctl --load-all)), ends the IKE SAs of
        O(confirm_ike.connections) and initiates O(confirm_ike.initiate) again; charon keeps running.
    type: dict
    suboptions:
      connections:
        description: The connections of the file, whose IKE SAs a rollback ends.
        type: list
        elements: str
        default: []
      initiate:
        description: The connections this end initiates, which a rollback initiates again.
        type: list
        elements: str
        default: []
  pending_dir:
    description: Where the pending changes are kept (as with M(l2sec.macsec.macsec_secy)).
    type: path
    default: /run/l2sec-macsec/pending
notes:
  - O(secrets) is C(no_log); the result holds the file only in the masked diff.
  - With O(confirm_timeout), the file as it was (with its secrets) is kept until the commit in O(pending_dir), which is
    under /run (never on disk), 0600 in a directory of root's only.
seealso:
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: A wpa_supplicant port configuration, its CAK and CKN shown only as fingerprints in --diff
  l2sec.macsec.macsec_secret_file:
    path: /etc/l2sec-macsec/wpa_supplicant/eth2.conf
    content: "{{ lookup('ansible.builtin.template', 'port.conf.j2') }}"  # mka_cak=@@cak@@ ...
    secrets:
      cak: "{{ my_cak }}"
      ckn: "{{ my_ckn }}"
    secret_keys: [mka_cak, mka_ckn]
"""

RETURN = r"""
retired:
  description: The generations O(retire) recorded as retired in this call (they were not yet), by link.
  returned: when the record moved
  type: dict
  sample: {rack1-ab: 1}
path:
  description: The file.
  returned: always
  type: str
created:
  description: Whether the file did not exist before (so a change made it).
  returned: always
  type: bool
content_changed:
  description: Whether the content changed, not only the mode (what a daemon has to load again).
  returned: always
  type: bool
pending:
  description:
    - With O(confirm_timeout), whether a change of O(confirm_name) waits for its confirmation (this one, or one of an
      earlier run that nobody confirmed yet). Confirm it with M(l2sec.macsec.macsec_confirm) V(commit).
  returned: always
  type: bool
rollback_timer:
  description: The timer this call armed, when it armed one.
  returned: when a change was armed
  type: str
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm_files
from ansible_collections.l2sec.macsec.plugins.module_utils import _files
from ansible_collections.l2sec.macsec.plugins.module_utils import _generations
from ansible_collections.l2sec.macsec.plugins.module_utils import _keys


def masked(text, secret_keys):
    """`text` with the value of each `key=value` line of `secret_keys` replaced by its fingerprint."""
    if text is None or not secret_keys:
        return text
    pattern = re.compile(r'^([ \t]*(?:%s)[ \t]*=[ \t]*)(.*?)([ \t]*)$' % '|'.join(re.escape(key) for key in secret_keys),
                         re.M)
    return pattern.sub(lambda match: match.group(1) + _keys.fingerprint(match.group(2)) + match.group(3), text)


def filled(content, secrets):
    """`content` with each @@NAME@@ replaced by secrets[NAME]. Raises KeyError naming a marker without a secret."""
    def secret(match):
        return str(secrets[match.group(1)])
    return re.sub(r'@@([A-Za-z0-9_]+)@@', secret, content)


def _mode(module, value):
    try:
        return int(value, 8) if isinstance(value, str) else int(value)
    except ValueError:
        module.fail_json(msg='mode: must be an octal mode like "0600", not %r' % value, field='mode')
    return None


def confirm_of(module):
    """The commit-confirmed settings ({timeout, name, units, pending_dir}), or None when it is off."""
    params = module.params
    if params['confirm_timeout'] < 0:
        module.fail_json(msg='confirm_timeout: give the seconds before a rollback (above 0), or 0 for none, not %d'
                         % params['confirm_timeout'], field='confirm_timeout')
    if params['confirm_timeout'] == 0:
        return None
    if not params['confirm_name'] or '/' in params['confirm_name'] or params['confirm_name'] in ('.', '..'):
        module.fail_json(msg='confirm_name: give the name of the change (the port\'s macsec interface, no /) with '
                         'confirm_timeout', field='confirm_name')
    return {'timeout': params['confirm_timeout'], 'name': params['confirm_name'], 'units': params['confirm_units'],
            'ike': params['confirm_ike'], 'pending_dir': params['pending_dir']}


def retire_request(module):
    """The checked `retire` option; bad input fails naming it before the file is touched."""
    try:
        return _generations.retire_request(module.params['retire'])
    except _generations.GenerationsError as exc:
        module.fail_json(msg=str(exc), field='retire')


def record_retired(module, retire, result):
    """The generations before the one whose keys the file now holds, recorded as retired (the key lifecycle)."""
    try:
        moved = _generations.retire(retire, module.params['generations_file'], module.check_mode)
    except (_generations.GenerationsError, OSError) as exc:
        module.fail_json(msg='%s is written, but the record of retired generations could not be (the next run writes '
                             'it again): %s' % (module.params['path'], exc), **result)
    if moved:
        result['changed'] = True
        result['retired'] = {name: retire[name] for name in moved}


def main():
    module = AnsibleModule(
        argument_spec={
            'path': {'type': 'path', 'required': True},
            'content': {'type': 'str', 'required': True},
            'secrets': {'type': 'dict', 'default': {}, 'no_log': True},
            'secret_keys': {'type': 'list', 'elements': 'str', 'default': [], 'no_log': False},
            'mode': {'type': 'raw', 'default': '0600'},
            'confirm_timeout': {'type': 'int', 'default': 0},
            'confirm_name': {'type': 'str'},
            'confirm_units': {'type': 'list', 'elements': 'str', 'default': []},
            'confirm_ike': {'type': 'dict', 'options': {
                'connections': {'type': 'list', 'elements': 'str', 'default': []},
                'initiate': {'type': 'list', 'elements': 'str', 'default': []},
            }},
            'pending_dir': {'type': 'path', 'default': _confirm.PENDING_DIR},
            'retire': {'type': 'dict', 'default': {}},
            'generations_file': {'type': 'path', 'default': _generations.GENERATIONS_FILE},
        },
        supports_check_mode=True,
    )
    path = module.params['path']
    try:
        content = filled(module.params['content'], module.params['secrets'])
    except KeyError as exc:
        module.fail_json(msg='content: the marker @@%s@@ has no secret: add %s to secrets' % (exc.args[0], exc.args[0]),
                         field='content')
    mode = _mode(module, module.params['mode'])
    confirm = confirm_of(module)
    retire = retire_request(module)
    before = _files.read_bytes(path)
    before_text = None if before is None else before.decode('utf-8', errors='replace')
    changed_content = before_text != content
    changed_mode = not changed_content and _files.file_mode(path) != mode
    result = {'changed': changed_content or changed_mode, 'content_changed': changed_content, 'path': path,
              'pending': False, 'created': before is None}
    if confirm and changed_content and not module.check_mode:
        try:  # before the file changes: a failure here leaves the file as it was
            result['rollback_timer'] = _confirm_files.arm(confirm['pending_dir'], confirm['name'], path, confirm['units'],
                                                          confirm['timeout'], module.run_command, ike=confirm['ike'])
        except (_confirm.ConfirmError, OSError) as exc:
            module.fail_json(msg='%s: cannot arm the rollback of this change, nothing changed: %s' % (path, exc))
    if not module.check_mode:
        if changed_content:
            _files.write_atomic(path, content.encode('utf-8'), mode)
        elif changed_mode:
            os.chmod(path, mode)
    if confirm:
        result['pending'] = ('rollback_timer' in result
                             or _confirm_files.read(confirm['pending_dir'], confirm['name']) is not None)
    record_retired(module, retire, result)
    if module._diff and changed_content:
        secret_keys = module.params['secret_keys']
        result['diff'] = {'before_header': path, 'after_header': path,
                          'before': masked(before_text or '', secret_keys), 'after': masked(content, secret_keys)}
    module.exit_json(**result)


if __name__ == '__main__':
    main()
