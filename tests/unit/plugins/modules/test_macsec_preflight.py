# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.l2sec.macsec.plugins.modules import macsec_preflight


def run_module(capsys, args):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        macsec_preflight.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_reports_missing_parent_without_changing_anything(capsys):
    code, result = run_module(capsys, {'parents': ['l2sec-no-such-nic'], '_ansible_check_mode': True})
    assert code == 0
    assert result['changed'] is False
    assert result['preflight']['missing_parents'] == ['l2sec-no-such-nic']
    assert result['preflight']['macsec_module'] in ('loaded', 'builtin', 'available', 'missing')


def test_rejects_unknown_option(capsys):
    code, result = run_module(capsys, {'parent': ['eth1']})
    assert code == 1
    assert 'parent' in result['msg']
