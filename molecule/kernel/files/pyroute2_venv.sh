#!/bin/sh
# Makes a venv with the pyroute2 of a tarball (its package and dist-info directories), without pip and without
# the system's site-packages, so that its python sees that pyroute2 and no other.
# Usage: pyroute2_venv.sh TARBALL VENV_DIR   (as root, in a VM)
set -eu
tarball=$1
venv=$2
rm -rf "$venv"
python3 -m venv --without-pip "$venv"
site=$("$venv/bin/python3" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
tar -xzf "$tarball" -C "$site"
"$venv/bin/python3" -c 'import importlib.metadata, sys, pyroute2; print("pyroute2", importlib.metadata.version("pyroute2"), pyroute2.__file__, sys.prefix)'
