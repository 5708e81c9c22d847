# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Files the collection writes on hosts and on the controller: whole, atomic, private from the first byte.

Keys, the PN registry and boot states must never be seen half written (a crash between two writes) nor readable
by others for an instant (a chmod after the write). Standard library only: the host agent ships this file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile


def write_atomic(path, data, mode, sync_directory=False):
    """Write bytes to `path`: a temp file in the same directory created with `mode`, fsync, rename over `path`.
    With `sync_directory` the rename itself is made durable (fsync of the directory)."""
    directory = os.path.dirname(path) or '.'
    handle, temp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path), suffix='.tmp')
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, 'wb') as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync_directory:
        fsync_directory(directory)


def fsync_directory(directory):
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_bytes(path):
    """The file's bytes, or None when it does not exist (other errors are raised)."""
    try:
        with open(path, 'rb') as stream:
            return stream.read()
    except OSError as error:
        if error.errno == errno.ENOENT:
            return None
        raise


def file_mode(path):
    """The permission bits of a file, or None when it does not exist."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return None


def ensure_directory(directory, mode):
    """Create the directory with exactly `mode` (makedirs' mode is filtered by the umask); leave an existing one."""
    if not os.path.isdir(directory):
        os.makedirs(directory, mode=mode, exist_ok=True)  # exist_ok: another writer may win the race
        os.chmod(directory, mode)
