# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""Teardown (plugins/module_utils/_teardown.py) on a file tree under tmp_path: find() sees what the collection left,
plan() orders it so that no cleartext flows where a link was (daemons, IKE, strongSwan, FreeRADIUS, SecYs, parents,
unit files, paths), and each step of Teardown.apply() does exactly its part, running commands only when they
apply."""

from __future__ import annotations

import fnmatch
import os

import jinja2
import pytest
import yaml

from ansible_collections.l2sec.macsec.plugins.module_utils import _confirm
from ansible_collections.l2sec.macsec.plugins.module_utils import _parents
from ansible_collections.l2sec.macsec.plugins.module_utils import _teardown

COLLECTION = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))

# The one file of all links that the strongswan role wrote before its files were per link (conf.d/l2sec-macsec.conf,
# beside conf.d/l2sec-macsec-secrets.conf): connections at two blanks, children at six.
SWANCTL_CONF = '''connections {
  l2sec-dc1-ab-1 {
    version = 2
    children {
      l2sec-dc1-ab-1 {
        mode = transport
      }
    }
  }
  # l2sec-commented {
  other-vpn {
    version = 2
  }
  l2sec-dc1-bc-0 {
    version = 2
  }
}
'''
# What the strongswan role writes now (roles/strongswan/templates/link.conf.j2), one file per link: conf.d/
# l2sec-macsec-LINK.conf with the link's connections, and its pre-shared keys in a `secrets` section at two blanks.
LINK_CONF = '''connections {
  # macsec_over_ipsec, peer node-b
  %(name)s {
    version = 2
    children {
      %(name)s {
        mode = transport
      }
    }
  }
}
secrets {
  ike-%(name)s {
    secret = 0x@@psk@@
  }
}
'''


def link_conf(name):
    return LINK_CONF % {'name': name}


class Host:
    """The `run(argv)` of a host: records every command; `units` are what systemctl lists, `active` the services
    that run, `answers` maps an argv prefix to the (rc, out, err) it gets instead."""

    def __init__(self, units=(), active=(), answers=None):
        self.units = list(units)
        self.active = set(active)
        self.answers = dict(answers or {})
        self.calls = []

    def __call__(self, argv):
        assert isinstance(argv, list) and all(isinstance(arg, str) for arg in argv)
        self.calls.append(list(argv))
        for prefix, answer in self.answers.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return answer
        if argv[:2] == ['systemctl', 'list-units']:
            return 0, ''.join('%s loaded active running l2sec unit\n' % unit for unit in self.units), ''
        if argv[:3] == ['systemctl', 'is-active', '--quiet']:
            return (0 if argv[3] in self.active else 3), '', ''
        return 0, '', ''

    def commands(self):
        """The calls that change something (not the reads)."""
        return [call for call in self.calls if call[:2] != ['systemctl', 'list-units'] and call[1] != 'is-active']


class Network:
    """The netlink side: what remove_secy and set_parent were asked, and which parents carry a macsec link."""

    def __init__(self, macsec_parents=()):
        self.parents = set(macsec_parents)
        self.calls = []

    def remove_secy(self, name, tunnel):
        self.calls.append(('remove_secy', name, tunnel))

    def set_parent(self, name, settings):
        self.calls.append(('set_parent', name, dict(settings)))

    def macsec_parents(self):
        return set(self.parents)


@pytest.fixture
def paths(tmp_path):
    return _teardown.Paths(str(tmp_path))


def put(path, text='x\n'):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)


def link(target, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.symlink(target, path)


def at(directory, name):
    return os.path.join(directory, name)


def stock_freeradius(paths, enabled=False):
    """Debian's FreeRADIUS: the -available files, and their -enabled links when `enabled`."""
    for name in _teardown.FREERADIUS_STOCK:
        put(at(paths.freeradius_dir, name.replace('-enabled/', '-available/')))
        if enabled:
            link('../' + name.replace('-enabled/', '-available/'), at(paths.freeradius_dir, name))


def full_host(paths):
    """A host with everything the collection makes."""
    for name in _teardown.UNIT_FILES:
        put(at(paths.unit_dir, name))
    link(at(paths.unit_dir, 'l2sec-macsec.service'), at(paths.unit_dir, 'multi-user.target.wants/l2sec-macsec.service'))
    link(at(paths.unit_dir, 'l2sec-macsec-persist.timer'),
         at(paths.unit_dir, 'timers.target.wants/l2sec-macsec-persist.timer'))
    link('/lib/systemd/system/ssh.service', at(paths.unit_dir, 'multi-user.target.wants/ssh.service'))
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-dc1-ab.conf'), link_conf('l2sec-dc1-ab-1'))
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-dc1-bc.conf'), link_conf('l2sec-dc1-bc-0'))
    link('/etc/l2sec-macsec/pki/host.key', at(paths.swanctl_dir, 'private/l2sec-macsec.pem'))
    link('/etc/l2sec-macsec/pki/crl.pem', at(paths.swanctl_dir, 'x509crl/l2sec-macsec.pem'))
    put(at(paths.swanctl_dir, 'conf.d/other.conf'))
    stock_freeradius(paths)
    put(at(paths.freeradius_dir, 'mods-available/l2sec_eap'))
    put(at(paths.freeradius_dir, 'sites-available/l2sec-macsec'))
    link('../mods-available/l2sec_eap', at(paths.freeradius_dir, 'mods-enabled/l2sec_eap'))
    link('../sites-available/l2sec-macsec', at(paths.freeradius_dir, 'sites-enabled/l2sec-macsec'))
    put(at(paths.freeradius_dir, 'l2sec-macsec/users'))
    put(at(paths.state_dir, 'macsec0.json'))
    put(at(paths.agent_dir, 'l2sec-macsec-agent'))
    put(paths.modules_load, 'macsec\n')
    _parents.remember('eth2', 'mtu', 1500, paths.parents_file)
    _parents.remember('eth1', 'mtu', 1500, paths.parents_file)
    _parents.remember('eth1', 'up', False, paths.parents_file)


UNITS = ['l2sec-macsec.service', 'l2sec-mka@eth1.service']
LINK_FILES = ['conf.d/l2sec-macsec-dc1-ab.conf', 'conf.d/l2sec-macsec-dc1-bc.conf']
SECYS = [('macsec0', 'eth1', None), ('macsec1', 'gt1', {'local': '192.0.2.1'})]


# ---------------------------------------------------------------------------------------------------------------
# find()

def test_an_empty_host_has_nothing_and_no_steps(paths):
    host = Host()
    found = _teardown.find(host, paths, [])
    assert found == {'units': [], 'unit_files': [], 'ike_connections': [], 'swanctl_files': [],
                     'freeradius_files': [], 'secys': [], 'parents': {}, 'files': [], 'nft_table': False}
    assert _teardown.plan(found) == []
    assert host.commands() == []


def test_find_sees_everything_the_collection_left(paths):
    full_host(paths)
    host = Host(units=['l2sec-mka@eth1.service', 'l2sec-macsec.service', 'l2sec-mka@eth1.service'])
    found = _teardown.find(host, paths, SECYS)
    assert found['units'] == ['l2sec-macsec.service', 'l2sec-mka@eth1.service']  # sorted, once each
    assert found['unit_files'] == list(_teardown.UNIT_FILES)
    assert found['ike_connections'] == ['l2sec-dc1-ab-1', 'l2sec-dc1-bc-0']
    assert found['swanctl_files'] == LINK_FILES + list(_teardown.SWANCTL_FILES)
    assert found['freeradius_files'] == list(_teardown.FREERADIUS_FILES)
    assert found['secys'] == SECYS
    assert found['parents'] == {'eth1': {'mtu': 1500, 'up': False}, 'eth2': {'mtu': 1500}}
    assert found['files'] == [paths.config_dir, paths.agent_dir, paths.modules_load,
                              at(paths.unit_dir, 'multi-user.target.wants/l2sec-macsec.service'),
                              at(paths.unit_dir, 'timers.target.wants/l2sec-macsec-persist.timer')]


def test_find_asks_systemctl_for_the_collections_units_only(paths):
    host = Host()
    _teardown.find(host, paths, [])
    assert host.calls == [['systemctl', 'list-units', '--all', '--plain', '--no-legend', 'l2sec-macsec*',
                           'l2sec-mka@*', 'l2sec-hostapd@*', 'l2sec-ike-up.service', 'l2sec-strict-parent.service',
                           'l2sec-rollback-*']]


def test_units_are_none_when_systemctl_fails(paths):
    host = Host(units=['l2sec-macsec.service'], answers={('systemctl', 'list-units'): (1, 'l2sec-x.service a\n', 'no')})
    assert _teardown.find(host, paths, [])['units'] == []


def test_a_dangling_link_is_found_too(paths):
    # A link whose target went first (the PKI's key) is still the collection's.
    link('/nonexistent/host.key', at(paths.swanctl_dir, 'private/l2sec-macsec.pem'))
    assert _teardown.find(Host(), paths, [])['swanctl_files'] == ['private/l2sec-macsec.pem']


def test_enablement_links_of_other_units_are_not_found(paths):
    link('/lib/systemd/system/ssh.service', at(paths.unit_dir, 'multi-user.target.wants/ssh.service'))
    link('/lib/systemd/system/l2tp.service', at(paths.unit_dir, 'multi-user.target.wants/l2tp.service'))
    link(at(paths.unit_dir, 'l2sec-mka@.service'), at(paths.unit_dir, 'multi-user.target.wants/l2sec-mka@eth1.service'))
    assert _teardown.find(Host(), paths, [])['files'] == [
        at(paths.unit_dir, 'multi-user.target.wants/l2sec-mka@eth1.service')]


def test_a_broken_parents_record_stops_find(paths):
    put(paths.parents_file, 'not json')
    with pytest.raises(_parents.ParentsError):
        _teardown.find(Host(), paths, [])


# ---------------------------------------------------------------------------------------------------------------
# The connection names in the swanctl file

def test_connection_names_are_the_l2sec_sections_at_two_blanks(paths):
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec.conf'), SWANCTL_CONF)
    # Not the children (6 blanks), not the comment, not another connection; in file order.
    assert _teardown.find(Host(), paths, [])['ike_connections'] == ['l2sec-dc1-ab-1', 'l2sec-dc1-bc-0']


def test_connection_names_allow_the_name_then_brace_without_space(paths):
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec.conf'), 'connections {\n  l2sec-a_b.c-1{\n  }\n}\n')
    assert _teardown.find(Host(), paths, [])['ike_connections'] == ['l2sec-a_b.c-1']


def test_no_swanctl_file_no_connections(paths):
    assert _teardown.find(Host(), paths, [])['ike_connections'] == []


def role_link_file(link, names, auth='psk'):
    """The strongswan role's swanctl file of one link: its path (the role's task, with the role's default
    strongswan_config_dir) and roles/strongswan/templates/link.conf.j2 as Ansible's template lookup renders it
    (trim_blocks; an undefined variable is an error)."""
    with open(os.path.join(COLLECTION, 'roles', 'strongswan', 'templates', 'link.conf.j2'), encoding='utf-8') as handle:
        template = jinja2.Environment(trim_blocks=True, undefined=jinja2.StrictUndefined).from_string(handle.read())
    connections = [{'name': name, 'link': link, 'layering': 'macsec_over_ipsec', 'peer': 'node-b',
                    'local_addr': '192.0.2.1', 'remote_addr': '192.0.2.2', 'ike_rekey_time': 14400,
                    'dpd_delay': 30, 'auth': auth, 'local_ts': '192.0.2.1/32[gre]', 'remote_ts': '192.0.2.2/32[gre]',
                    'rekey_time': 3600, 'initiator': True, 'probe': None} for name in names]
    text = template.render(ansible_managed='managed', strongswan_link=link, strongswan_link_connections=connections,
                           strongswan_ike_proposals='aes256gcm16-prfsha384-ecp384',
                           strongswan_esp_proposals='aes256gcm16-ecp384', strongswan_pki_dir='/etc/l2sec-macsec/pki')
    task = role_task('l2sec.macsec.macsec_secret_file', 'file.yml')  # main.yml and batch.yml include it
    path = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(task['path']).render(
        strongswan_config_dir=role_default('strongswan_config_dir'), strongswan_link=link)
    return path, text


def role_tasks(tasks):
    for task in tasks or ():
        yield task
        for key in ('block', 'rescue', 'always'):
            yield from role_tasks(task.get(key))


def role_task(module, tasks='main.yml'):
    """The arguments of the strongswan role's task (in `tasks`, in blocks too) that runs `module`."""
    with open(os.path.join(COLLECTION, 'roles', 'strongswan', 'tasks', tasks), encoding='utf-8') as handle:
        found = [task[module] for task in role_tasks(yaml.safe_load(handle)) if module in task]
    assert len(found) == 1, found
    return found[0]


def role_default(name):
    with open(os.path.join(COLLECTION, 'roles', 'strongswan', 'defaults', 'main.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle)[name]


def put_role_file(paths, link, names, auth='psk'):
    """Write the role's file of `link` where the role writes it, below the test's swanctl directory."""
    path, text = role_link_file(link, names, auth)
    assert path.startswith('/etc/swanctl/'), path  # where teardown looks (Paths.swanctl_dir)
    put(paths.swanctl_dir + path[len('/etc/swanctl'):], text)
    return os.path.relpath(path, '/etc/swanctl')


def test_connection_names_are_found_in_what_the_strongswan_role_writes(paths):
    path, text = role_link_file('dc1-ab', ['l2sec-dc1-ab-1', 'l2sec-dc1-ab-2'])
    # What the role writes (the premises of this test): a connection at two blanks, its key in the same file.
    assert '\n  l2sec-dc1-ab-1 {\n' in text and '\n  ike-l2sec-dc1-ab-1 {\n' in text and '0x@@psk@@' in text
    assert path == '/etc/swanctl/conf.d/l2sec-macsec-dc1-ab.conf'
    assert put_role_file(paths, 'dc1-ab', ['l2sec-dc1-ab-1', 'l2sec-dc1-ab-2']) == 'conf.d/l2sec-macsec-dc1-ab.conf'
    found = _teardown.find(Host(), paths, [])
    # The children (six blanks) and the secrets (ike-...) are no connections.
    assert found['ike_connections'] == ['l2sec-dc1-ab-1', 'l2sec-dc1-ab-2']
    assert found['swanctl_files'] == ['conf.d/l2sec-macsec-dc1-ab.conf']


def test_every_file_the_strongswan_role_writes_is_found_with_its_connections(paths):
    put_role_file(paths, 'rack1.ab', ['l2sec-rack1-ab-1'], auth='pubkey')
    put_role_file(paths, 'dc-segment', ['l2sec-dc-segment-0', 'l2sec-dc-segment-2'])
    found = _teardown.find(Host(), paths, [])
    assert found['swanctl_files'] == ['conf.d/l2sec-macsec-dc-segment.conf', 'conf.d/l2sec-macsec-rack1.ab.conf']
    assert found['ike_connections'] == ['l2sec-dc-segment-0', 'l2sec-dc-segment-2', 'l2sec-rack1-ab-1']


def test_the_role_finds_its_stale_files_with_the_same_pattern_as_teardown():
    # What the role removes as stale and what teardown removes are the same files.
    assert role_task('ansible.builtin.find')['patterns'] == [os.path.basename(_teardown.SWANCTL_CONFIGS)]
    assert role_default('strongswan_config_dir') == os.path.join('/etc/swanctl',
                                                                 os.path.dirname(_teardown.SWANCTL_CONFIGS))


def test_the_files_of_before_the_per_link_files_are_found_too(paths):
    # A host the role configured before its files were per link, not run since.
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec.conf'), SWANCTL_CONF)
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-secrets.conf'),
        'secrets {\n  ike-l2sec-dc1-ab-1 {\n    secret = 0x00\n  }\n}\n')
    found = _teardown.find(Host(), paths, [])
    assert found['swanctl_files'] == ['conf.d/l2sec-macsec-secrets.conf', 'conf.d/l2sec-macsec.conf']
    assert found['ike_connections'] == ['l2sec-dc1-ab-1', 'l2sec-dc1-bc-0']


def test_per_link_files_and_files_of_before_are_found_together_each_connection_from_its_file(paths):
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec.conf'), SWANCTL_CONF)
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-secrets.conf'))
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-zz.conf'), link_conf('l2sec-zz-0'))
    put(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-aa.conf'), link_conf('l2sec-aa-1'))
    found = _teardown.find(Host(), paths, [])
    assert found['swanctl_files'] == ['conf.d/l2sec-macsec-aa.conf', 'conf.d/l2sec-macsec-secrets.conf',
                                      'conf.d/l2sec-macsec-zz.conf', 'conf.d/l2sec-macsec.conf']
    assert found['ike_connections'] == ['l2sec-aa-1', 'l2sec-zz-0', 'l2sec-dc1-ab-1', 'l2sec-dc1-bc-0']


def test_only_the_collections_swanctl_files_are_found(paths):
    for name in ('conf.d/other.conf', 'conf.d/l2sec-other.conf', 'conf.d/l2sec-macsec-ab.conf.dpkg-old',
                 'conf.d/l2sec-macsec-ab.conf~', 'conf.d/my-l2sec-macsec-ab.conf', 'l2sec-macsec-ab.conf',
                 'swanctl.conf', 'conf.d/sub/l2sec-macsec-ab.conf'):
        put(at(paths.swanctl_dir, name), link_conf('l2sec-foreign-1'))
    found = _teardown.find(Host(), paths, [])
    assert found['swanctl_files'] == [] and found['ike_connections'] == []
    assert fnmatch.fnmatch('conf.d/l2sec-macsec-ab.conf', _teardown.SWANCTL_CONFIGS)


def test_a_per_link_file_left_as_a_dangling_link_is_found(paths):
    link('/nonexistent/l2sec-macsec-ab.conf', at(paths.swanctl_dir, 'conf.d/l2sec-macsec-ab.conf'))
    found = _teardown.find(Host(), paths, [])
    assert found['swanctl_files'] == ['conf.d/l2sec-macsec-ab.conf'] and found['ike_connections'] == []


# ---------------------------------------------------------------------------------------------------------------
# plan()

def test_plan_orders_daemons_ike_strongswan_freeradius_secys_parents_unit_files_paths(paths):
    full_host(paths)
    steps = _teardown.plan(_teardown.find(Host(units=UNITS), paths, SECYS))
    assert [step['op'] for step in steps] == [
        'stop_units', 'terminate_ike', 'remove_swanctl', 'remove_freeradius', 'remove_secy', 'remove_secy',
        'restore_parent', 'restore_parent', 'remove_unit_files', 'remove_path', 'remove_path', 'remove_path',
        'remove_path', 'remove_path']
    assert [step.get('parent') for step in steps if step['op'] == 'restore_parent'] == ['eth1', 'eth2']
    assert [step['path'] for step in steps if step['op'] == 'remove_path'][:3] == [
        paths.config_dir, paths.agent_dir, paths.modules_load]


def test_plan_texts_say_what_each_step_does(paths):
    full_host(paths)
    steps = _teardown.plan(_teardown.find(Host(units=UNITS), paths, SECYS))
    texts = [step['text'] for step in steps]
    assert texts[0] == 'stop and disable l2sec-macsec.service, l2sec-mka@eth1.service'
    assert texts[1] == 'close the IKE SAs of l2sec-dc1-ab-1, l2sec-dc1-bc-0'
    assert texts[2] == ('remove the swanctl files conf.d/l2sec-macsec-dc1-ab.conf, conf.d/l2sec-macsec-dc1-bc.conf, '
                        'private/l2sec-macsec.pem, x509crl/l2sec-macsec.pem and reload strongSwan without them')
    assert texts[3].startswith('remove the FreeRADIUS files mods-enabled/l2sec_eap, ')
    assert texts[4] == 'delete the macsec link macsec0 (recording its PNs, retiring its keys)'
    assert texts[5] == 'delete the macsec link macsec1 and its tunnel gt1 (recording its PNs, retiring its keys)'
    assert texts[6] == 'put the parent eth1 back as it was (mtu 1500, up off)'
    assert texts[7] == 'put the parent eth2 back as it was (mtu 1500)'
    assert texts[8] == 'remove the unit files %s' % ', '.join(_teardown.UNIT_FILES)
    assert texts[9] == 'remove %s' % paths.config_dir


def test_plan_shows_a_recorded_ipv6_as_on_or_off():
    found = dict(units=[], unit_files=[], ike_connections=[], swanctl_files=[], freeradius_files=[], secys=[],
                 nft_table=False,
                 files=[], parents={'eth1': {'ipv6': True, 'up': True, 'mtu': 9000}})
    assert [step['text'] for step in _teardown.plan(found)] == [
        'put the parent eth1 back as it was (ipv6 on, mtu 9000, up on)']


def test_each_part_alone_gives_only_its_step(paths):
    put(paths.modules_load)
    steps = _teardown.plan(_teardown.find(Host(), paths, []))
    assert [(step['op'], step['path']) for step in steps] == [('remove_path', paths.modules_load)]


# ---------------------------------------------------------------------------------------------------------------
# Teardown.apply(): each step

def teardown(paths, host, network=None):
    network = network or Network()
    return _teardown.Teardown(host, paths, network.remove_secy, network.set_parent, network.macsec_parents), network


def test_stop_units_disables_them_now(paths):
    host = Host()
    runner, dummy = teardown(paths, host)
    runner.apply([{'op': 'stop_units', 'text': 'stop', 'units': UNITS}])
    assert host.calls == [['systemctl', 'disable', '--now'] + UNITS]
    assert runner.done == ['stop']


def test_terminate_ike_closes_each_connection_and_an_unknown_one_is_no_warning(paths):
    host = Host(answers={('swanctl', '--terminate', '--ike', 'l2sec-b-0'): (1, '', 'no matching SAs found\n')})
    runner, dummy = teardown(paths, host)
    runner.apply([{'op': 'terminate_ike', 'text': 'close', 'connections': ['l2sec-a-1', 'l2sec-b-0']}])
    assert host.calls == [['swanctl', '--terminate', '--ike', 'l2sec-a-1', '--force', '--timeout', '5'],
                          ['swanctl', '--terminate', '--ike', 'l2sec-b-0', '--force', '--timeout', '5']]
    assert runner.warnings == []


def test_terminate_ike_that_fails_otherwise_warns_and_goes_on(paths):
    host = Host(answers={('swanctl', '--terminate', '--ike', 'l2sec-a-1'): (2, '', 'connecting to vici failed\n')})
    runner, dummy = teardown(paths, host)
    runner.apply([{'op': 'terminate_ike', 'text': 'close', 'connections': ['l2sec-a-1', 'l2sec-b-0']}])
    assert len(host.calls) == 2
    assert runner.warnings == ['closing the IKE SA of l2sec-a-1: connecting to vici failed']
    assert runner.done == ['close']


def swanctl_step(paths):
    return [step for step in _teardown.plan(_teardown.find(Host(), paths, [])) if step['op'] == 'remove_swanctl']


def test_remove_swanctl_removes_our_files_and_reloads_a_running_strongswan(paths):
    full_host(paths)
    host = Host(active=['strongswan.service'])
    runner, dummy = teardown(paths, host)
    step, = swanctl_step(paths)
    assert step['files'] == LINK_FILES + list(_teardown.SWANCTL_FILES)
    runner.apply([step])
    for name in step['files']:
        assert not os.path.lexists(at(paths.swanctl_dir, name))
    assert os.listdir(at(paths.swanctl_dir, 'conf.d')) == ['other.conf']
    assert host.calls == [['systemctl', 'is-active', '--quiet', 'strongswan.service'],
                          ['swanctl', '--load-all', '--clear']]


def test_remove_swanctl_does_not_load_into_a_stopped_strongswan(paths):
    full_host(paths)
    host = Host(active=['freeradius.service'])
    runner, dummy = teardown(paths, host)
    runner.apply(swanctl_step(paths))
    assert not os.path.lexists(at(paths.swanctl_dir, 'conf.d/l2sec-macsec-dc1-ab.conf'))
    assert host.commands() == []


def freeradius_step(paths):
    return [step for step in _teardown.plan(_teardown.find(Host(), paths, [])) if step['op'] == 'remove_freeradius']


def test_remove_freeradius_removes_ours_puts_the_stock_links_back_and_restarts_a_running_one(paths):
    full_host(paths)
    host = Host(active=['freeradius.service'])
    runner, dummy = teardown(paths, host)
    runner.apply(freeradius_step(paths))
    for name in _teardown.FREERADIUS_FILES:
        assert not os.path.lexists(at(paths.freeradius_dir, name))
    for name in _teardown.FREERADIUS_STOCK:
        link_path = at(paths.freeradius_dir, name)
        assert os.readlink(link_path) == '../' + name.replace('-enabled/', '-available/')
        assert os.path.isfile(link_path)  # it resolves
    assert host.calls == [['systemctl', 'is-active', '--quiet', 'freeradius.service'],
                          ['systemctl', 'restart', 'freeradius.service']]


def test_remove_freeradius_does_not_start_a_stopped_one(paths):
    full_host(paths)
    host = Host(active=['strongswan.service'])
    runner, dummy = teardown(paths, host)
    runner.apply(freeradius_step(paths))
    assert not os.path.lexists(at(paths.freeradius_dir, 'sites-enabled/l2sec-macsec'))
    assert host.commands() == []


def test_stock_links_are_put_back_only_when_missing_and_their_target_exists(paths):
    put(at(paths.freeradius_dir, 'sites-enabled/l2sec-macsec'))
    # default: the admin's own file stays; inner-tunnel: no -available file, no link; eap: missing, put back.
    put(at(paths.freeradius_dir, 'sites-available/default'))
    put(at(paths.freeradius_dir, 'sites-enabled/default'), 'the admin\'s own\n')
    put(at(paths.freeradius_dir, 'mods-available/eap'))
    os.makedirs(at(paths.freeradius_dir, 'mods-enabled'))  # Debian's, with other modules' links
    runner, dummy = teardown(paths, Host())
    runner.apply(freeradius_step(paths))
    with open(at(paths.freeradius_dir, 'sites-enabled/default'), encoding='utf-8') as handle:
        assert handle.read() == 'the admin\'s own\n'
    assert not os.path.islink(at(paths.freeradius_dir, 'sites-enabled/default'))
    assert not os.path.lexists(at(paths.freeradius_dir, 'sites-enabled/inner-tunnel'))
    assert os.readlink(at(paths.freeradius_dir, 'mods-enabled/eap')) == '../mods-available/eap'


def test_an_existing_stock_link_is_left_as_it_is(paths):
    stock_freeradius(paths, enabled=True)
    os.unlink(at(paths.freeradius_dir, 'mods-enabled/eap'))
    link('/somewhere/else/eap', at(paths.freeradius_dir, 'mods-enabled/eap'))  # dangling: still there
    put(at(paths.freeradius_dir, 'mods-enabled/l2sec_eap'))
    runner, dummy = teardown(paths, Host())
    runner.apply(freeradius_step(paths))
    assert os.readlink(at(paths.freeradius_dir, 'mods-enabled/eap')) == '/somewhere/else/eap'


def test_remove_secy_passes_the_tunnel_only_for_a_secy_on_one(paths):
    runner, network = teardown(paths, Host())
    runner.apply(_teardown.plan(dict(units=[], unit_files=[], ike_connections=[], swanctl_files=[], nft_table=False,
                                     freeradius_files=[], parents={}, files=[], secys=SECYS)))
    assert network.calls == [('remove_secy', 'macsec0', None), ('remove_secy', 'macsec1', 'gt1')]


def test_restore_parent_puts_the_settings_back_and_forgets_the_record(paths):
    _parents.remember('eth1', 'mtu', 1500, paths.parents_file)
    _parents.remember('eth1', 'up', False, paths.parents_file)
    _parents.remember('eth2', 'ipv6', True, paths.parents_file)
    runner, network = teardown(paths, Host())
    runner.apply(_teardown.plan(_teardown.find(Host(), paths, [])))
    assert network.calls == [('set_parent', 'eth1', {'mtu': 1500, 'up': False}),
                             ('set_parent', 'eth2', {'ipv6': True})]
    assert runner.warnings == []
    assert not os.path.exists(paths.parents_file)


def test_a_parent_that_still_carries_a_foreign_macsec_link_is_left_with_a_warning_and_forgotten(paths):
    _parents.remember('eth1', 'mtu', 1500, paths.parents_file)
    _parents.remember('eth2', 'mtu', 1500, paths.parents_file)
    runner, network = teardown(paths, Host(), Network(macsec_parents=['eth1']))
    runner.apply(_teardown.plan(_teardown.find(Host(), paths, [])))
    assert network.calls == [('set_parent', 'eth2', {'mtu': 1500})]
    assert runner.warnings == ['the parent eth1 still carries a macsec link that is not the collection\'s: its '
                               'settings stay as they are']
    assert _parents.load(paths.parents_file) == {}


def test_remove_unit_files_then_reload_systemd(paths):
    for name in _teardown.UNIT_FILES:
        put(at(paths.unit_dir, name))
    put(at(paths.unit_dir, 'ssh.service'))
    host = Host()
    runner, dummy = teardown(paths, host)
    steps = _teardown.plan(_teardown.find(host, paths, []))
    host.calls.clear()
    runner.apply(steps)
    assert os.listdir(paths.unit_dir) == ['ssh.service']
    # A unit left failed (stopped in the middle of its run) would stay loaded without its file.
    assert host.calls == [['systemctl', 'daemon-reload'], ['systemctl', 'reset-failed'] + list(_teardown.UNIT_PATTERNS)]


def test_remove_path_removes_directories_files_and_links_but_not_link_targets(paths, tmp_path):
    put(at(paths.state_dir, 'macsec0.json'))
    put(at(paths.config_dir, 'pki/ca.pem'))
    put(paths.modules_load)
    put(at(paths.agent_dir, 'l2sec-macsec-agent'))
    target = at(paths.unit_dir, 'l2sec-macsec.service')
    put(target)
    link(target, at(paths.unit_dir, 'multi-user.target.wants/l2sec-macsec.service'))
    os.unlink(target)  # as after remove_unit_files: the enablement link dangles
    outside = str(tmp_path / 'keep' / 'file')
    put(outside)
    link(outside, at(paths.unit_dir, 'timers.target.wants/l2sec-macsec-persist.timer'))
    runner, dummy = teardown(paths, Host())
    runner.apply(_teardown.plan(_teardown.find(Host(), paths, [])))
    for path in (paths.config_dir, paths.agent_dir, paths.modules_load,
                 at(paths.unit_dir, 'multi-user.target.wants/l2sec-macsec.service'),
                 at(paths.unit_dir, 'timers.target.wants/l2sec-macsec-persist.timer')):
        assert not os.path.lexists(path)
    assert os.path.isfile(outside)


def test_a_failing_command_stops_the_teardown_and_names_the_command(paths):
    full_host(paths)
    host = Host(units=UNITS, active=['strongswan.service'],
                answers={('swanctl', '--load-all'): (7, '', 'loading connection failed\n')})
    runner, network = teardown(paths, host)
    steps = _teardown.plan(_teardown.find(host, paths, SECYS))
    with pytest.raises(_teardown.TeardownError) as error:
        runner.apply(steps)
    assert str(error.value) == 'swanctl --load-all --clear failed (rc 7): loading connection failed'
    assert runner.done == [steps[0]['text'], steps[1]['text']]
    assert network.calls == []  # no SecY went, no parent was touched
    assert os.path.exists(paths.config_dir)


def test_a_failing_stop_says_what_systemctl_said_on_stdout_when_stderr_is_empty(paths):
    host = Host(answers={('systemctl', 'disable'): (1, 'Failed to disable unit\n', '')})
    runner, dummy = teardown(paths, host)
    with pytest.raises(_teardown.TeardownError, match=r'^systemctl disable --now l2sec-macsec.service failed '
                                                      r'\(rc 1\): Failed to disable unit$'):
        runner.apply([{'op': 'stop_units', 'text': 'stop', 'units': ['l2sec-macsec.service']}])
    assert runner.done == []


def test_a_failing_daemon_reload_raises(paths):
    put(at(paths.unit_dir, 'l2sec-ike-up.service'))
    host = Host(answers={('systemctl', 'daemon-reload'): (1, '', 'Access denied')})
    runner, dummy = teardown(paths, host)
    with pytest.raises(_teardown.TeardownError, match='systemctl daemon-reload failed'):
        runner.apply(_teardown.plan(_teardown.find(host, paths, [])))


def test_the_whole_teardown_leaves_nothing_to_do(paths):
    full_host(paths)
    stock_ssh = at(paths.unit_dir, 'multi-user.target.wants/ssh.service')
    host = Host(units=UNITS, active=['strongswan.service', 'freeradius.service'])
    runner, network = teardown(paths, host)
    steps = _teardown.plan(_teardown.find(host, paths, SECYS))
    host.calls.clear()
    runner.apply(steps)
    assert runner.done == [step['text'] for step in steps] and runner.warnings == []
    # The commands, in the order of the plan.
    assert host.commands() == [
        ['systemctl', 'disable', '--now'] + UNITS,
        ['swanctl', '--terminate', '--ike', 'l2sec-dc1-ab-1', '--force', '--timeout', '5'],
        ['swanctl', '--terminate', '--ike', 'l2sec-dc1-bc-0', '--force', '--timeout', '5'],
        ['swanctl', '--load-all', '--clear'],
        ['systemctl', 'restart', 'freeradius.service'],
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'reset-failed'] + list(_teardown.UNIT_PATTERNS),
    ]
    assert network.calls == [('remove_secy', 'macsec0', None), ('remove_secy', 'macsec1', 'gt1'),
                             ('set_parent', 'eth1', {'mtu': 1500, 'up': False}),
                             ('set_parent', 'eth2', {'mtu': 1500})]
    assert os.path.lexists(stock_ssh)
    assert _teardown.plan(_teardown.find(Host(), paths, [])) == []


def test_a_strict_parent_table_left_without_its_unit_is_deleted(paths):
    put(paths.nft, '')
    host = Host()  # nft answers 0: the table is there
    found = _teardown.find(host, paths, [])
    assert found['nft_table'] is True
    steps = _teardown.plan(found)
    assert [step['op'] for step in steps] == ['delete_nft_table']
    runner = _teardown.Teardown(host, paths, None, None, set)
    runner.apply(steps)
    assert [paths.nft, 'delete', 'table', 'netdev', 'l2sec_macsec'] in host.calls


def test_the_strict_parent_unit_deletes_its_own_table_and_nft_is_not_asked(paths):
    put(paths.nft, '')
    host = Host(answers={('systemctl', 'list-units'): (0, 'l2sec-strict-parent.service loaded active exited x\n', '')})
    found = _teardown.find(host, paths, [])
    assert found['nft_table'] is False
    assert not any(call[0] == paths.nft for call in host.calls)


def test_a_host_without_nft_is_not_asked_for_the_table(paths):
    host = Host(units=['l2sec-mka@eth1.service'])
    assert _teardown.find(host, paths, [])['nft_table'] is False
    assert not any('nft' in call[0] for call in host.calls)


def test_timers_stop_before_their_services(paths):
    # In one transaction a timer can still start its service after the service's stop job: timers go first.
    host = Host()
    runner, dummy = teardown(paths, host)
    units = ['l2sec-macsec-persist.service', 'l2sec-macsec-persist.timer', 'l2sec-macsec.service']
    runner.apply([{'op': 'stop_units', 'text': 'stop', 'units': units}])
    assert host.calls == [['systemctl', 'disable', '--now', 'l2sec-macsec-persist.timer'],
                          ['systemctl', 'disable', '--now', 'l2sec-macsec-persist.service', 'l2sec-macsec.service']]


def test_rollback_timers_are_stopped_before_anything_is_disabled(paths):
    # A pending change's timer would restore a SecY the teardown is about to remove; it has no unit file to disable.
    host = Host()
    runner, dummy = teardown(paths, host)
    units = ['l2sec-macsec-persist.timer', 'l2sec-macsec.service', 'l2sec-rollback-macsec0.service',
             'l2sec-rollback-macsec0.timer']
    runner.apply([{'op': 'stop_units', 'text': 'stop', 'units': units}])
    assert host.calls == [['systemctl', 'stop', 'l2sec-rollback-macsec0.service', 'l2sec-rollback-macsec0.timer'],
                          ['systemctl', 'disable', '--now', 'l2sec-macsec-persist.timer'],
                          ['systemctl', 'disable', '--now', 'l2sec-macsec.service']]


def test_rollback_timers_alone_are_only_stopped(paths):
    host = Host()
    runner, dummy = teardown(paths, host)
    runner.apply([{'op': 'stop_units', 'text': 'stop', 'units': ['l2sec-rollback-ms\\x2b1.timer']}])
    assert host.calls == [['systemctl', 'stop', 'l2sec-rollback-ms\\x2b1.timer']]


def test_the_rollback_timers_of_confirm_are_the_ones_teardown_stops():
    assert _confirm.unit_name('macsec0').startswith(_teardown.ROLLBACK_PATTERN.rstrip('*'))
    assert _confirm.PENDING_DIR.startswith(_teardown.RUN_DIR + '/')


def test_pending_changes_under_run_are_found_and_removed(paths):
    put(os.path.join(paths.run_dir, 'pending', 'macsec0.json'))
    put(os.path.join(paths.run_dir, 'pending', 'macsec0.lock'), '')
    found = _teardown.find(Host(), paths, [])
    assert found['files'] == [paths.run_dir] and paths.run_dir.endswith('/run/l2sec-macsec')
    runner, dummy = teardown(paths, Host())
    runner.apply(_teardown.plan(found))
    assert not os.path.lexists(paths.run_dir)
