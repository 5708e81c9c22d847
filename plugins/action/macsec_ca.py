# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The fleet CA and its CRL on the controller; documentation: plugins/modules/macsec_ca.py."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.l2sec.macsec.plugins.module_utils import _pki

DEFAULT_DIR = '~/.local/share/l2sec-macsec/pki'

ARGUMENT_SPEC = {
    'dir': {'type': 'path', 'default': DEFAULT_DIR},
    'common_name': {'type': 'str', 'default': 'l2sec.macsec fleet CA'},
    'key_type': {'type': 'str', 'choices': list(_pki.KEY_TYPES), 'default': _pki.DEFAULT_KEY_TYPE},
    'days': {'type': 'int', 'default': 3650},
    'revoked_hosts': {'type': 'list', 'elements': 'str', 'default': []},
    'revoked_serials': {'type': 'list', 'elements': 'str', 'default': []},
    'crl_days': {'type': 'int', 'default': 90},
    'renew_before_days': {'type': 'int', 'default': 30},
}


class ActionModule(ActionBase):
    """Make the CA once, then keep the CRL equal to what the index and the revocation lists say."""

    TRANSFERS_FILES = False
    _requires_connection = False  # the CA lives on the controller only
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(ARGUMENT_SPEC)
        if not _pki.HAS_CRYPTOGRAPHY:
            raise AnsibleActionFail('macsec_ca needs the Python library cryptography on the controller')
        _check_numbers(args)
        store = _pki.CaStore(args['dir'])
        check_mode = self._task.check_mode
        changes = []
        if not check_mode and _pki.ensure_private_dir(store.directory):
            changes.append('made %s (0700)' % store.directory)
        if check_mode and not store.exists():
            result.update(changed=True, ca_certificate=None, crl=None, changes=['would create the CA in %s'
                                                                                % store.directory],
                          msg='check mode: the CA does not exist yet', diff=_diff(None, None, None, None))
            return result
        try:
            if check_mode:  # read only: not even the lock file is created
                result.update(self._converge(store, args, check_mode, changes))
            else:
                with store.locked():
                    result.update(self._converge(store, args, check_mode, changes))
        except _pki.PkiError as error:
            raise AnsibleActionFail(str(error)) from None
        return result

    @staticmethod
    def _converge(store, args, check_mode, changes):
        created = not store.exists()
        if created:
            ca_key, ca_cert = store.create(args['common_name'], args['key_type'], args['days'])
            changes.append('created the CA %s (%s)' % (args['common_name'], args['key_type']))
        else:
            ca_key, ca_cert = store.load()
        if not check_mode:
            changes.extend('set %s to 0600' % name for name in store.tighten())
        index = store.load_index(ca_cert)
        revoked = _pki.revoke_hosts(index, set(args['revoked_hosts']))
        revoked += _pki.revoke_serials(index, args['revoked_serials'])
        changes.extend('revoked serial %s' % serial for serial in revoked)
        entries = _pki.crl_entries(index)
        old_crl = _pki.load_crl(_pki.read_file(store.path(_pki.CA_CRL_FILE)))
        reasons = _pki.crl_reasons(old_crl, ca_cert, entries, args['renew_before_days'])
        new_crl = old_crl
        if reasons:
            changes.append('signed a new CRL: %s' % '; '.join(reasons))
            number = max(index.get('crl_number', 0), _pki.crl_number(old_crl) if old_crl else 0) + 1
            new_crl = _pki.make_crl(ca_key, ca_cert, entries, number, args['crl_days'])
            index['crl_number'] = number
        if not check_mode and (revoked or reasons):
            store.save_index(index)
            if reasons:
                _pki.write_file(store.path(_pki.CA_CRL_FILE), _pki.crl_pem(new_crl).encode('ascii'),
                                _pki.CA_FILE_MODE)
        return {
            'changed': bool(changes),
            'changes': changes,
            'ca_certificate': _pki.certificate_pem(ca_cert),
            'ca_fingerprint': _pki.certificate_fingerprint(ca_cert),
            'crl': _pki.crl_pem(new_crl),
            'crl_summary': _pki.crl_summary(new_crl),
            'dir': store.directory,
            'msg': '; '.join(changes) if changes else 'CA and CRL up to date',
            'diff': _diff(None if created else ca_cert, ca_cert, old_crl, new_crl) if changes else {},
        }


def _check_numbers(args):
    if args['days'] < 1 or args['crl_days'] < 1 or args['renew_before_days'] < 0:
        raise AnsibleActionFail('days and crl_days must be at least 1, renew_before_days at least 0')
    if args['crl_days'] <= args['renew_before_days']:
        raise AnsibleActionFail('crl_days (%d) must be longer than renew_before_days (%d), or every run would sign '
                                'a new CRL' % (args['crl_days'], args['renew_before_days']))


def _ca_text(cert):
    if cert is None:
        return 'ca: (none)\n'
    return 'ca: %s %s\n' % (cert.subject.rfc4514_string(), _pki.certificate_fingerprint(cert))


def _diff(old_ca, new_ca, old_crl, new_crl):
    """Before and after of the CA (subject, fingerprint) and the CRL (number, dates, serials): no key material."""
    return {
        'before_header': 'CA and CRL', 'after_header': 'CA and CRL',
        'before': _ca_text(old_ca) + _pki.summary_text(_pki.crl_summary(old_crl)),
        'after': _ca_text(new_ca) + _pki.summary_text(_pki.crl_summary(new_crl)),
    }
