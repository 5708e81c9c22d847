# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line('markers', 'playbook: runs ansible-playbook processes against the collection (slower)')
