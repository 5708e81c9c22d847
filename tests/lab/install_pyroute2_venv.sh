#!/bin/sh
# Install a pure-python pyroute2 wheel into a venv that still sees the system's packages, without pip and
# without Debian's python3-venv (only ensurepip lives there; `venv --without-pip` is in the stdlib).
#   install_pyroute2_venv.sh <wheel-file> <venv-dir>      (as root in a lab VM; no network needed)
# Then run `<venv-dir>/bin/python script.py`: the wheel's pyroute2 shadows the system one (python3-pyroute2).
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 <wheel-file> <venv-dir>" >&2
    exit 2
fi
wheel=$1
venv=$2
python=${PYTHON:-/usr/bin/python3}

if [ ! -f "$wheel" ]; then
    echo "no such wheel: $wheel" >&2
    exit 2
fi
case $wheel in
    *-py3-none-any.whl) ;;
    *) echo "not a pure-python wheel (*-py3-none-any.whl): $wheel" >&2; exit 2 ;;
esac

rm -rf "$venv"
"$python" -m venv --system-site-packages --without-pip "$venv"
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# A wheel is a zip whose top level is the site-packages layout (package dirs + NAME-VERSION.dist-info).
"$venv/bin/python" -m zipfile -e "$wheel" "$site"
"$venv/bin/python" -c '
import sys
import pyroute2
from importlib.metadata import version
where = pyroute2.__file__
if not where.startswith(sys.prefix):
    sys.exit("pyroute2 comes from %s, not from the venv %s" % (where, sys.prefix))
print("pyroute2 %s from %s" % (version("pyroute2"), where))
'
