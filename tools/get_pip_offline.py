"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip into its sanity venvs.

ansible-test fetches get-pip.py from a host that is not reachable offline (only the package registries
are). This script does the same job with what is already here: ensurepip, then pip from the package index.
tools/test.sh copies it to the path ansible-test caches the download at.
"""

import subprocess
import sys

# get-pip.py options that plain `pip install` does not know.
GET_PIP_ONLY_OPTIONS = {'--no-setuptools', '--no-wheel'}


def main():
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    main()
