# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Sign a host's CSR with the fleet CA on the controller; documentation: plugins/modules/macsec_cert_sign.py.

The CSR gives the key (and proves its possession); the names come from the task, so a host cannot ask for
names it was not given. The host's current certificate stays when it still fits (idempotence).
"""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.l2sec.macsec.plugins.module_utils import _pki

DEFAULT_DIR = '~/.local/share/l2sec-macsec/pki'

ARGUMENT_SPEC = {
    'dir': {'type': 'path', 'default': DEFAULT_DIR},
    'csr': {'type': 'str', 'required': True},
    'certificate': {'type': 'str'},
    'host': {'type': 'str'},
    'common_name': {'type': 'str'},
    'dns_names': {'type': 'list', 'elements': 'str', 'default': []},
    'ip_addresses': {'type': 'list', 'elements': 'str', 'default': []},
    'days': {'type': 'int', 'default': 365},
    'renew_before_days': {'type': 'int', 'default': 30},
}


class ActionModule(ActionBase):
    """Keep the host's certificate when it fits, else issue one for the CSR's key and the requested names."""

    TRANSFERS_FILES = False
    _requires_connection = False  # the CA key never leaves the controller, the host key never reaches it
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(ARGUMENT_SPEC)
        if not _pki.HAS_CRYPTOGRAPHY:
            raise AnsibleActionFail('macsec_cert_sign needs the Python library cryptography on the controller')
        if args['days'] <= args['renew_before_days'] or args['renew_before_days'] < 0:
            raise AnsibleActionFail('days (%d) must be longer than renew_before_days (%d), or every run would issue '
                                    'a new certificate' % (args['days'], args['renew_before_days']))
        args['host'] = args['host'] or task_vars.get('inventory_hostname')
        args['common_name'] = args['common_name'] or args['host']
        store = _pki.CaStore(args['dir'])
        try:
            csr = _pki.load_csr(args['csr'])
            _pki.normalize_names(args['dns_names'], args['ip_addresses'])  # a bad IP fails before anything else
            if self._task.check_mode and not store.exists():
                result.update(_would_issue(args, csr, ['the CA does not exist yet']))
                return result
            if self._task.check_mode:
                result.update(_decide(store, args, csr, check_mode=True))
            elif not store.exists():
                raise store.no_ca()  # before the lock, whose file would need the CA's directory
            else:
                with store.locked():
                    result.update(_decide(store, args, csr, check_mode=False))
        except _pki.PkiError as error:
            raise AnsibleActionFail('%s: %s' % (args['host'], error)) from None
        return result


def _decide(store, args, csr, check_mode):
    ca_key, ca_cert = store.load()
    index = store.load_index(ca_cert)
    current = _pki.load_certificate(args['certificate'])
    reasons = _pki.reissue_reasons(current, ca_cert, csr.public_key(), args['common_name'], args['dns_names'],
                                   args['ip_addresses'], args['renew_before_days'], _pki.revoked_serials(index))
    if args['certificate'] and current is None:
        reasons = ['the host\'s certificate does not parse']
    if not reasons:
        adopted = _pki.adopt(index, args['host'], current)
        if adopted and not check_mode:
            store.save_index(index)
        return _answer(current, current, [], adopted, 'the certificate fits: kept')
    if check_mode:
        return _would_issue(args, csr, reasons, current)
    new = _pki.issue_certificate(ca_key, ca_cert, csr.public_key(), args['common_name'], args['dns_names'],
                                 args['ip_addresses'], args['days'])
    _pki.record_issued(index, args['host'], new)
    store.save_index(index)
    return _answer(current, new, reasons, True, 'issued serial %x: %s' % (new.serial_number, '; '.join(reasons)))


def _answer(before, after, reasons, changed, msg):
    summary = _pki.certificate_summary(after)
    return {
        'changed': changed,
        'certificate': _pki.certificate_pem(after),
        'summary': summary,
        'reasons': reasons,
        'msg': msg,
        'diff': _diff(_pki.certificate_summary(before), summary, reasons) if changed else {},
    }


def _would_issue(args, csr, reasons, current=None):
    """Check mode: what a new certificate would hold (no serial nor dates yet)."""
    dns, ips = _pki.normalize_names(args['dns_names'], args['ip_addresses'])
    planned = {'subject': 'CN=%s' % args['common_name'], 'dns_names': dns, 'ip_addresses': ips,
               'serial': '(new)', 'not_after': '(in %d days)' % args['days'],
               'key_fingerprint': _pki.public_key_fingerprint(csr.public_key()),
               'extended_key_usage': sorted(_pki.EXTENDED_KEY_USAGES)}
    return {'changed': True, 'certificate': None, 'summary': planned, 'reasons': reasons,
            'msg': 'would issue a certificate: %s' % '; '.join(reasons),
            'diff': _diff(_pki.certificate_summary(current), planned, reasons)}


def _diff(before, after, reasons):
    """Subject, names, serial, dates and key fingerprint before and after (never key material), and why."""
    why = ' (%s)' % '; '.join(reasons) if reasons else ''
    return {'before_header': 'certificate', 'after_header': 'certificate' + why,
            'before': _pki.summary_text(before), 'after': _pki.summary_text(after)}
