#!/usr/bin/env bash
# The main job on a fresh machine: set up, boot a two-VM lab, and run playbooks/site.yml against it with the
# example topology of examples/lab/. `tools/demo.sh down` stops the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LAB_NAME=${L2SEC_LAB_NAME:-demo}
MAIN_CORE=2.21.5

if [ "${1:-}" = down ]; then
  exec python3 lab/lab.py down --name "$LAB_NAME"
fi

tools/setup.sh "$MAIN_CORE"
python3 lab/lab.py build
python3 lab/lab.py up --name "$LAB_NAME" --vms 2

# Ansible finds the collection through a link <cache>/ansible_collections/l2sec/macsec -> this tree.
collections=$ROOT/.cache/collections
mkdir -p "$collections/ansible_collections/l2sec"
ln -sfn "$ROOT" "$collections/ansible_collections/l2sec/macsec"
inventory=$ROOT/.cache/$LAB_NAME-inventory.yml
python3 lab/lab.py inventory --name "$LAB_NAME" --output "$inventory"

export ANSIBLE_COLLECTIONS_PATH=$collections ANSIBLE_CONFIG=$ROOT/examples/lab/ansible.cfg
"$ROOT/.venv/$MAIN_CORE/bin/ansible-playbook" -i "$inventory" -i examples/lab/inventory l2sec.macsec.site "${@}"
echo "The lab keeps running: 'python3 lab/lab.py ssh --name $LAB_NAME vm1 ping -c3 10.0.1.2' crosses the link, 'tools/demo.sh down' stops it."
