# -*- coding: utf-8 -*-
# SPDX-License-Identifier: GPL-3.0-or-later

"""A stand-in for the kernel behind pyroute2's IPRoute and the collection's MacsecSocket, at their method level.

It keeps links, addresses and SecYs as plain data, answers the read calls the way pyroute2 and
`_netlink_macsec.parse_secy()` do (messages with get_attr() and ['flags'], dumps as plain dicts), records every
call, and refuses what Linux refuses (drivers/net/macsec.c): an active SA cannot be deleted, an AN holds one SA,
an in-place change may not carry the cipher, ICV length or port, replay protection needs a window in the same
request. Keys are accepted and kept apart, never returned by a dump, as in the kernel.
"""

from __future__ import annotations

import copy
import errno

from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as nl

IFF_UP = 0x1

# Calls that change something (what check mode must never make).
MODIFYING = frozenset(('link add', 'link set', 'link del', 'addr add', 'addr del', 'add_rxsc', 'update_rxsc',
                       'del_rxsc', 'add_txsa', 'update_txsa', 'del_txsa', 'add_rxsa', 'update_rxsa', 'del_rxsa',
                       'set_offload'))


class Msg:
    """An rtnl message as pyroute2 returns it: header fields by [name], attributes by get_attr(name)."""

    def __init__(self, fields, attrs):
        self.fields = fields
        self.attrs = attrs

    def __getitem__(self, name):
        return self.fields[name]

    def get_attr(self, name):
        return self.attrs.get(name)


class Closing:
    """A context manager around a fake socket, like IPRoute() and MacsecSocket()."""

    def __init__(self, value):
        self.value = value

    def __enter__(self):
        return self.value

    def __exit__(self, *exc_info):
        return False


class FakeKernel:
    """Links by index, SecYs by index, and the calls made, in order: [(name, arguments)]."""

    def __init__(self):
        self.links = {}
        self.secys = {}
        self.keys = {}  # (index, sci or None, an) -> the key the SA was installed with
        self.calls = []
        self.failures = {}  # call name -> exception to raise instead of doing it
        self.next_index = 2
        self.ipr = FakeIpr(self)
        self.genl = FakeGenl(self)

    # -- set-up ---------------------------------------------------------------------------------------------------
    def add_nic(self, name, mac, mtu=1500, up=True):
        index = self.new_index()
        self.links[index] = {'name': name, 'kind': None, 'mac': mac, 'mtu': mtu, 'up': up, 'parent': None,
                             'addresses': []}
        return index

    def new_index(self):
        index = self.next_index
        self.next_index += 1
        return index

    # -- inspection -----------------------------------------------------------------------------------------------
    def index_of(self, name):
        found = [index for index, link in self.links.items() if link['name'] == name]
        return found[0] if found else None

    def modifying_calls(self):
        return [(name, args) for name, args in self.calls if name in MODIFYING]

    def secy_of(self, name):
        return self.secys.get(self.index_of(name))

    # -- behaviour ------------------------------------------------------------------------------------------------
    def record(self, name, **args):
        self.calls.append((name, args))
        failure = self.failures.get(name)
        if failure is not None:
            raise failure

    def require_secy(self, index):
        if index not in self.secys:
            raise nl.MacsecError(errno.ENODEV, 'interface %s is not a MACsec interface' % index)
        return self.secys[index]


class FakeIpr:
    """IPRoute: link_lookup, get_links, get_addr, link, addr."""

    def __init__(self, kernel):
        self.kernel = kernel

    def link_lookup(self, ifname):
        self.kernel.record('link_lookup', ifname=ifname)
        index = self.kernel.index_of(ifname)
        return [] if index is None else [index]

    def _message(self, index):
        link = self.kernel.links[index]
        info = Msg({}, {'IFLA_INFO_KIND': link['kind']}) if link['kind'] else None
        return Msg({'index': index, 'flags': IFF_UP if link['up'] else 0},
                   {'IFLA_IFNAME': link['name'], 'IFLA_ADDRESS': link['mac'], 'IFLA_MTU': link['mtu'],
                    'IFLA_LINK': link['parent'], 'IFLA_LINKINFO': info})

    def get_links(self, *indexes):
        self.kernel.record('get_links', indexes=indexes)
        wanted = indexes or sorted(self.kernel.links)
        for index in wanted:
            if index not in self.kernel.links:
                raise nl.NetlinkError(errno.ENODEV, 'No such device')
        return [self._message(index) for index in wanted]

    def get_addr(self, index):
        self.kernel.record('get_addr', index=index)
        return [Msg({'scope': scope, 'prefixlen': prefixlen}, {'IFA_ADDRESS': address})
                for address, prefixlen, scope in self.kernel.links[index]['addresses']]

    def link(self, action, **args):
        kernel = self.kernel
        kernel.record('link ' + action, **args)
        if action == 'add':
            self._add(args)
        elif action == 'del':
            kernel.links.pop(args['index'])
            kernel.secys.pop(args['index'], None)
        elif action == 'set':
            self._set(args)
        else:
            raise AssertionError('unexpected link action %s' % action)

    def _add(self, args):
        kernel = self.kernel
        if kernel.index_of(args['ifname']) is not None:
            raise nl.NetlinkError(errno.EEXIST, 'File exists')
        parent = kernel.links[args['link']]
        icv_len = args.get('IFLA_MACSEC_ICV_LEN', 16)
        index = kernel.new_index()
        kernel.links[index] = {'name': args['ifname'], 'kind': args['kind'], 'mac': parent['mac'],
                               'mtu': parent['mtu'] - 16 - icv_len, 'up': False, 'parent': args['link'],
                               'addresses': []}
        port = args.get('IFLA_MACSEC_PORT', 1)
        secy = {
            'sci': nl.format_sci(nl.make_sci(parent['mac'], port)),
            'cipher': nl.cipher_name(args.get('IFLA_MACSEC_CIPHER_SUITE', nl.LEGACY_GCM_AES_128_ID)),
            'icv_len': icv_len, 'encoding_sa': 0, 'window': 0, 'validate': 'strict', 'protect': True,
            'replay_protect': False, 'oper': True, 'encrypt': False, 'include_sci': True, 'end_station': False,
            'scb': False,
        }
        secy['cipher_id'] = nl.CIPHER_IDS[secy['cipher']]
        kernel.secys[index] = {'secy': secy, 'offload': 'off', 'txsc_stats': {}, 'secy_stats': {}, 'tx_sas': [],
                               'rx_scs': []}
        self._change_secy(secy, args)

    def _set(self, args):
        kernel = self.kernel
        link = kernel.links[args['index']]
        if 'mtu' in args:
            if link['parent'] is not None:
                parent = kernel.links[link['parent']]
                if args['mtu'] > parent['mtu'] - 16 - kernel.secys[args['index']]['secy']['icv_len']:
                    raise nl.NetlinkError(errno.ERANGE, 'Numerical result out of range')
            link['mtu'] = args['mtu']
        if 'state' in args:
            link['up'] = args['state'] == 'up'
        macsec = {name: value for name, value in args.items() if name.startswith('IFLA_MACSEC_')}
        if macsec:
            if any(name in macsec for name in ('IFLA_MACSEC_CIPHER_SUITE', 'IFLA_MACSEC_ICV_LEN', 'IFLA_MACSEC_SCI',
                                               'IFLA_MACSEC_PORT')):
                raise nl.NetlinkError(errno.EINVAL, 'Invalid argument')
            self._change_secy(kernel.secys[args['index']]['secy'], macsec)

    @staticmethod
    def _change_secy(secy, data):
        """macsec_validate_attr() then macsec_changelink_common(), on IFLA_MACSEC_* values."""
        if data.get('IFLA_MACSEC_REPLAY_PROTECT') and 'IFLA_MACSEC_WINDOW' not in data:
            raise nl.NetlinkError(errno.EINVAL, 'Invalid argument')
        sci, es, scb = (bool(data.get(name)) for name in ('IFLA_MACSEC_INC_SCI', 'IFLA_MACSEC_ES',
                                                          'IFLA_MACSEC_SCB'))
        if (sci and (es or scb)) or (es and scb):
            raise nl.NetlinkError(errno.EINVAL, 'Invalid argument')
        flags = {'IFLA_MACSEC_ENCRYPT': 'encrypt', 'IFLA_MACSEC_PROTECT': 'protect',
                 'IFLA_MACSEC_INC_SCI': 'include_sci', 'IFLA_MACSEC_ES': 'end_station', 'IFLA_MACSEC_SCB': 'scb',
                 'IFLA_MACSEC_REPLAY_PROTECT': 'replay_protect'}
        for name, value in data.items():
            if name in flags:
                secy[flags[name]] = bool(value)
            elif name == 'IFLA_MACSEC_WINDOW':
                secy['window'] = value
            elif name == 'IFLA_MACSEC_ENCODING_SA':
                secy['encoding_sa'] = value
            elif name == 'IFLA_MACSEC_VALIDATION':
                secy['validate'] = {number: text for text, number in nl.VALIDATION.items()}[value]

    def addr(self, action, index, address, prefixlen):
        self.kernel.record('addr ' + action, index=index, address=address, prefixlen=prefixlen)
        addresses = self.kernel.links[index]['addresses']
        if action == 'add':
            addresses.append((address, prefixlen, 0))
        else:
            addresses.remove((address, prefixlen, 0))


class FakeGenl:
    """MacsecSocket: dump and the SC/SA commands. Errors are MacsecError, as MacsecSocket raises them."""

    def __init__(self, kernel):
        self.kernel = kernel

    def dump(self, ifindex=None):
        self.kernel.record('dump', ifindex=ifindex)
        found = []
        for index, secy in sorted(self.kernel.secys.items()):
            if ifindex is None or index == ifindex:
                shown = dict(copy.deepcopy(secy), ifindex=index)
                if not shown['secy']['replay_protect']:
                    shown['secy']['window'] = None  # Linux reports the window only with replay protection on
                found.append(shown)
        return found

    def _rxsc(self, ifindex, sci):
        found = [sc for sc in self.kernel.require_secy(ifindex)['rx_scs'] if sc['sci'] == nl.format_sci(nl.sci_int(sci))]
        if not found:
            raise nl.MacsecError(errno.ENODEV, 'no RX SC %s' % sci)
        return found[0]

    @staticmethod
    def _sa(sas, an):
        found = [sa for sa in sas if sa['an'] == an]
        if not found:
            raise nl.MacsecError(errno.ENODEV, 'no SA with AN %d' % an)
        return found[0]

    @staticmethod
    def _new_sa(sas, an, pn, keyid, active, ssci):
        if [sa for sa in sas if sa['an'] == an]:
            raise nl.MacsecError(errno.EBUSY, 'AN %d exists already' % an)
        sa = {'an': an, 'active': bool(active), 'pn': pn, 'keyid': bytes.fromhex(keyid).hex(), 'stats': {}}
        if ssci is not None:
            sa['ssci'] = ssci
        sas.append(sa)
        sas.sort(key=lambda entry: entry['an'])

    @staticmethod
    def _del_sa(sas, an):
        sa = FakeGenl._sa(sas, an)
        if sa['active']:
            raise nl.MacsecError(errno.EBUSY, 'AN %d is in use: deactivate it first' % an)
        sas.remove(sa)

    def add_rxsc(self, ifindex, sci, active=True):
        self.kernel.record('add_rxsc', ifindex=ifindex, sci=sci, active=active)
        secy = self.kernel.require_secy(ifindex)
        sci = nl.format_sci(nl.sci_int(sci))
        if [sc for sc in secy['rx_scs'] if sc['sci'] == sci]:
            raise nl.MacsecError(errno.EEXIST, 'RX SC %s exists already' % sci)
        secy['rx_scs'].append({'sci': sci, 'active': bool(active), 'stats': {}, 'sas': []})
        secy['rx_scs'].sort(key=lambda sc: sc['sci'])

    def update_rxsc(self, ifindex, sci, active):
        self.kernel.record('update_rxsc', ifindex=ifindex, sci=sci, active=active)
        self._rxsc(ifindex, sci)['active'] = bool(active)

    def del_rxsc(self, ifindex, sci):
        self.kernel.record('del_rxsc', ifindex=ifindex, sci=sci)
        self.kernel.require_secy(ifindex)['rx_scs'].remove(self._rxsc(ifindex, sci))

    def add_txsa(self, ifindex, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
        self.kernel.record('add_txsa', ifindex=ifindex, an=an, pn=pn, keyid=keyid, active=active, ssci=ssci,
                           xpn=xpn, has_key=key is not None, has_salt=salt is not None)
        self._new_sa(self.kernel.require_secy(ifindex)['tx_sas'], an, pn, keyid, active, ssci)
        self.kernel.keys[(ifindex, None, an)] = key

    def update_txsa(self, ifindex, an, pn=None, active=None, xpn=None):
        self.kernel.record('update_txsa', ifindex=ifindex, an=an, pn=pn, active=active, xpn=xpn)
        sa = self._sa(self.kernel.require_secy(ifindex)['tx_sas'], an)
        if active is not None:
            sa['active'] = bool(active)

    def del_txsa(self, ifindex, an):
        self.kernel.record('del_txsa', ifindex=ifindex, an=an)
        self._del_sa(self.kernel.require_secy(ifindex)['tx_sas'], an)

    def add_rxsa(self, ifindex, sci, an, pn, key, keyid, active=True, ssci=None, salt=None, xpn=None):
        self.kernel.record('add_rxsa', ifindex=ifindex, sci=sci, an=an, pn=pn, keyid=keyid, active=active,
                           ssci=ssci, xpn=xpn, has_key=key is not None, has_salt=salt is not None)
        self._new_sa(self._rxsc(ifindex, sci)['sas'], an, pn, keyid, active, ssci)
        self.kernel.keys[(ifindex, sci, an)] = key

    def update_rxsa(self, ifindex, sci, an, pn=None, active=None, xpn=None):
        self.kernel.record('update_rxsa', ifindex=ifindex, sci=sci, an=an, pn=pn, active=active, xpn=xpn)
        sa = self._sa(self._rxsc(ifindex, sci)['sas'], an)
        if active is not None:
            sa['active'] = bool(active)

    def del_rxsa(self, ifindex, sci, an):
        self.kernel.record('del_rxsa', ifindex=ifindex, sci=sci, an=an)
        self._del_sa(self._rxsc(ifindex, sci)['sas'], an)

    def set_offload(self, ifindex, offload):
        self.kernel.record('set_offload', ifindex=ifindex, offload=offload)
        self.kernel.require_secy(ifindex)['offload'] = offload


def through_pyroute2(kwarg):
    """What pyroute2 puts in the RTM_NEWLINK of ipr.link('add', **kwarg), decoded again: its request filters look
    the kind up in data_map, and this runs that path without a socket (0.7: apply_filter, 0.9: add_filter)."""
    # pylint: disable=import-outside-toplevel  # pyroute2 is only needed by the tests that call this
    from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg
    from pyroute2.requests.link import LinkFieldFilter, LinkIPRouteFilter
    from pyroute2.requests.main import RequestProcessor

    request = RequestProcessor(context=dict(kwarg), prime=dict(kwarg))
    add = getattr(request, 'add_filter', None) or getattr(request, 'apply_filter')
    add(LinkFieldFilter())
    add(LinkIPRouteFilter('add'))
    request.finalize()
    msg = ifinfmsg()
    for key, value in request.items():
        name = ifinfmsg.name2nla(key)
        if msg.valid_nla(name) and value is not None:
            msg['attrs'].append([name, value])
    msg.encode()
    back = ifinfmsg(msg.data)
    back.decode()
    return back


class FakeSystemd:
    """The `run` that _confirm is given (AnsibleModule.run_command's convention): records each argv, answers
    (rc, stdout, stderr) with `run_rc` to systemd-run."""

    def __init__(self):
        self.calls = []
        self.run_rc = 0

    def __call__(self, argv):
        assert isinstance(argv, list) and all(isinstance(arg, str) for arg in argv)
        self.calls.append(list(argv))
        rc = self.run_rc if argv[0] == 'systemd-run' else 0
        return rc, '', 'Failed to start transient timer unit\n' if rc else ''

    def runs(self):
        return [call for call in self.calls if call[0] == 'systemd-run']
