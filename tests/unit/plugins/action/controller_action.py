# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""How the unit tests run the collection's controller-side action plugins, and prove they never touch a host."""

from __future__ import annotations

from unittest.mock import MagicMock


class RecordingTemplar:
    """Stands in for Ansible's templar: records what it was asked to template and answers from a mapping."""

    def __init__(self, answers=None):
        self.answers = answers or {}
        self.templated = []

    def template(self, value):
        self.templated.append(value)
        return self.answers.get(value, value) if isinstance(value, str) else value


def run_controller_action(action_class, args, task_vars, templar=None, check_mode=False):
    """Run the action with a mocked connection; the proof that no host is contacted: the mock is never called."""
    task = MagicMock(args=args, async_val=0, check_mode=check_mode)
    connection = MagicMock()
    connection._shell.tmpdir = None
    action = action_class(task, connection, play_context=MagicMock(), loader=None,
                          templar=templar if templar is not None else MagicMock(), shared_loader_obj=None)
    result = action.run(task_vars=task_vars)
    assert connection.mock_calls == []
    return result
