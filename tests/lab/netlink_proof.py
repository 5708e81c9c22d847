#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) l2sec.macsec contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Proof of plugins/module_utils/_netlink_macsec.py against a real kernel (run as root in a lab VM).

    PYTHONPATH=DIR python netlink_proof.py [checks]        every netlink call on a dummy parent
    PYTHONPATH=DIR python netlink_proof.py traffic --peer-mac1 MAC --peer-mac2 MAC
                                                           vm1's side of the interop test (our netlink code)
    python netlink_proof.py peer-script --peer-mac1 MAC --peer-mac2 MAC
                                                           the peer's side as a shell script of plain `ip`
                                                           commands (stdlib only: runs on the host too)

DIR holds ansible_collections/l2sec/macsec/plugins/module_utils/_netlink_macsec.py. One line per check,
`PASS name` or `FAIL name: detail` (`SKIP name: why` for what cannot run here), then a summary; exit 1 on
any FAIL. What the kernel returns is also read with iproute2 (`ip -d link show`, `ip macsec show`), so the
proof does not only trust our own parser. The traffic test: eth1 carries a GCM-AES-128 SecY, eth2 a
GCM-AES-XPN-256 one, each with a peer configured by iproute2 alone.
"""

from __future__ import annotations

import argparse
import errno
import functools
import json
import os
import platform
import re
import subprocess
import sys
import time

nl = None  # the module under test, imported by main() (peer-script needs neither it nor pyroute2)
IPRoute = None

DUMMY = 'nlpd0'
MACSEC = 'nlp0'
LEGACY_GCM_AES_128_ID = 0x0080020001000001
K16 = bytes(range(16))
K32 = bytes(range(32))
KEYID_A = bytes(range(0xa0, 0xb0))
KEYID_B = bytes(range(0xb0, 0xc0))
SALT = bytes(range(0x40, 0x4c))
SCI_A = 0x525400aabbcc0001
SCI_B = 0x525400ddeeff0002
SECY_STATS = {'out_pkts_untagged', 'in_pkts_untagged', 'out_pkts_too_long', 'in_pkts_no_tag', 'in_pkts_bad_tag',
              'in_pkts_unknown_sci', 'in_pkts_no_sci', 'in_pkts_overrun'}
TXSC_STATS = {'out_pkts_protected', 'out_pkts_encrypted', 'out_octets_protected', 'out_octets_encrypted'}
RXSC_STATS = {'in_octets_validated', 'in_octets_decrypted', 'in_pkts_unchecked', 'in_pkts_delayed', 'in_pkts_ok',
              'in_pkts_invalid', 'in_pkts_late', 'in_pkts_not_valid', 'in_pkts_not_using_sa', 'in_pkts_unused_sa'}
TXSA_STATS = {'out_pkts_protected', 'out_pkts_encrypted'}
RXSA_STATS = {'in_pkts_ok', 'in_pkts_invalid', 'in_pkts_not_valid', 'in_pkts_not_using_sa', 'in_pkts_unused_sa'}

# The interop test: one SecY per wire, vm1 by our netlink code, the peer by iproute2. Keys are per direction.
TRAFFIC = (
    {'ifname': 'macsec1', 'parent': 'eth1', 'cipher': 'gcm-aes-128', 'net': '10.9.1',
     'key1': '11' * 16, 'key2': '22' * 16, 'pn1': 1, 'pn2': 1},
    {'ifname': 'macsec2', 'parent': 'eth2', 'cipher': 'gcm-aes-xpn-256', 'net': '10.9.2',
     'key1': '33' * 32, 'key2': '44' * 32, 'pn1': (1 << 32) + 100, 'pn2': (1 << 33) + 7,
     'ssci1': 0x01020304, 'ssci2': 0x0a0b0c0d, 'salt1': '5a' * 6 + '0102030405a6', 'salt2': 'c3' * 6 + '0a0b0c0d0e0f'},
)
KEYID1 = '01' + '00' * 15  # what iproute2 makes of `key 01 ...`
KEYID2 = '02' + '00' * 15


class Proof:
    """Counts and prints checks."""

    def __init__(self):
        self.passed = 0
        self.failed = []
        self.skipped = []
        self.last = time.time()

    def check(self, name, ok, detail=''):
        now = time.time()
        slow = ' (%.1f s)' % (now - self.last) if now - self.last > 2 else ''
        self.last = now
        if ok:
            self.passed += 1
            print('PASS %s%s' % (name, slow), flush=True)
        else:
            self.failed.append(name)
            print('FAIL %s: %s%s' % (name, detail, slow), flush=True)
        return ok

    def equal(self, name, got, want):
        return self.check(name, got == want, 'got %r, want %r' % (got, want))

    def skip(self, name, why):
        self.skipped.append(name)
        print('SKIP %s: %s' % (name, why), flush=True)

    def info(self, text):
        print('INFO %s' % text, flush=True)

    def call(self, name, func):
        """Run func; PASS when it returns, FAIL with the exception otherwise. Returns (ok, result)."""
        try:
            result = func()
        except Exception as exc:  # noqa: BLE001 - a proof reports whatever went wrong
            self.check(name, False, '%s: %s' % (type(exc).__name__, exc))
            return False, None
        self.check(name, True)
        return True, result

    def refused(self, name, func, codes, words=(), convert=None):
        """func must raise MacsecError (or NetlinkError, turned into one by convert) with an errno of codes
        and a message holding every one of words."""
        codes = codes if isinstance(codes, tuple) else (codes,)
        try:
            func()
        except nl.MacsecError as exc:
            error = exc
        except nl.NetlinkError as exc:
            if convert is None:
                return self.check(name, exc.code in codes, 'NetlinkError %s (%s), want errno %s'
                                  % (exc.code, exc, '/'.join(errno.errorcode[c] for c in codes)))
            error = convert(exc)
        except Exception as exc:  # noqa: BLE001
            return self.check(name, False, '%s: %s' % (type(exc).__name__, exc))
        else:
            return self.check(name, False, 'no error')
        missing = [word for word in words if word not in error.message]
        ok = error.code in codes and not missing
        print('     %s: %s' % (errno.errorcode.get(error.code, error.code), error.message), flush=True)
        detail = 'errno %s, message %r lacks %r' % (errno.errorcode.get(error.code), error.message, missing)
        return self.check(name, ok, detail)

    def value_error(self, name, func, words):
        try:
            func()
        except ValueError as exc:
            return self.check(name, words in str(exc), 'message %r lacks %r' % (str(exc), words))
        except Exception as exc:  # noqa: BLE001
            return self.check(name, False, '%s: %s' % (type(exc).__name__, exc))
        return self.check(name, False, 'no ValueError')

    def summary(self, started):
        print('SUMMARY %d passed, %d failed, %d skipped in %.1f s (python %s, pyroute2 %s, kernel %s)' % (
            self.passed, len(self.failed), len(self.skipped), time.time() - started, platform.python_version(),
            pyroute2_version(), platform.release()), flush=True)
        if self.failed:
            print('FAILED: %s' % ', '.join(self.failed), flush=True)
        return 1 if self.failed else 0


def pyroute2_version():
    try:
        from importlib.metadata import version
        return version('pyroute2')
    except Exception:  # noqa: BLE001
        return 'unknown'


def run(*argv, check=True):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


def ip_json(*argv):
    return json.loads(run('ip', '-j', *argv).stdout or '[]')


def ip_link_data(ifname):
    """IFLA_INFO_DATA as `ip -d -j link show` prints it."""
    return ip_json('-d', 'link', 'show', ifname)[0]['linkinfo']['info_data']


def ip_macsec(ifname):
    """The SecY as `ip -j macsec show` prints it."""
    found = [secy for secy in ip_json('macsec', 'show') if secy.get('ifname') == ifname]
    return found[0] if found else {}


def ip_macsec_text(ifname):
    return run('ip', 'macsec', 'show', ifname).stdout


def ip_sa_line(text, an, scope='TXSC'):
    """The `an: PN n, state on, key K` line of an SA in `ip macsec show` text, below TXSC or RXSC."""
    part = text.split(scope, 1)[1] if scope in text else ''
    if scope == 'TXSC':
        part = part.split('RXSC', 1)[0]
    match = re.search(r'^\s+%d: PN (\d+),\s*(?:SSCI (\w+) )?state (on|off), key (\w+)' % an, part, re.M)
    if not match:
        return None
    return {'pn': int(match.group(1)), 'ssci': match.group(2), 'active': match.group(3) == 'on',
            'keyid': match.group(4)}


def link_index(ipr, ifname):
    found = ipr.link_lookup(ifname=ifname)
    return found[0] if found else None


def delete_link(ipr, ifname):
    index = link_index(ipr, ifname)
    if index is not None:
        ipr.link('del', index=index)


def read_link(ipr, index):
    link = ipr.get_links(index)[0]
    linkinfo = link.get_attr('IFLA_LINKINFO')
    return nl.parse_link_data(linkinfo.get_attr('IFLA_INFO_DATA')), link.get_attr('IFLA_ADDRESS')


def dump_one(sock, index):
    found = sock.dump(index)
    return found[0] if found else None


def sa_at(sas, an):
    return ([sa for sa in sas if sa['an'] == an] or [None])[0]


def rx_sc(secy, sci):
    return ([sc for sc in secy['rx_scs'] if sc['sci'] == nl.format_sci(sci)] or [None])[0]


# ---------------------------------------------------------------------------------------------------------------
# checks: every call on a dummy parent
# ---------------------------------------------------------------------------------------------------------------

LINK_CASES = (
    ('gcm-aes-128', dict(cipher='gcm-aes-128', port=11, icv_len=16, encrypt=True, protect=True, include_sci=True,
                         replay_protect=True, window=32, validate='strict', encoding_sa=0, offload='off')),
    ('gcm-aes-256', dict(cipher='gcm-aes-256', port=12, icv_len=12, encrypt=False, protect=True, end_station=True,
                         replay_protect=False, validate='check', encoding_sa=1)),
    ('gcm-aes-xpn-128', dict(cipher='gcm-aes-xpn-128', sci='52:54:00:12:34:56:00:0d', icv_len=16, encrypt=True,
                             include_sci=True, window=0, validate='disabled', encoding_sa=2)),
    ('gcm-aes-xpn-256', dict(cipher='gcm-aes-xpn-256', port=14, icv_len=8, encrypt=True, protect=False,
                             end_station=False, scb=True, window=(1 << 30) - 1, validate='strict', encoding_sa=3)),
)


def expected_link(kwargs, mac):
    """What parse_link_data() must read back after link_data(**kwargs) (defaults of the kernel filled in)."""
    want = {'cipher': kwargs['cipher'], 'icv_len': kwargs['icv_len'], 'encrypt': kwargs['encrypt'],
            'validate': kwargs['validate'], 'encoding_sa': kwargs['encoding_sa'],
            'protect': kwargs.get('protect', True), 'end_station': bool(kwargs.get('end_station')),
            'scb': bool(kwargs.get('scb'))}
    include_sci = kwargs.get('include_sci')
    want['include_sci'] = include_sci if include_sci is not None else not (want['end_station'] or want['scb'])
    replay = kwargs.get('replay_protect', kwargs.get('window') is not None)
    want['replay_protect'] = bool(replay)
    if replay:
        want['window'] = kwargs['window']
    if 'sci' in kwargs:
        want['sci'] = nl.format_sci(nl.sci_int(kwargs['sci']))
        want['port'] = nl.sci_int(kwargs['sci']) & 0xffff
    else:
        want['sci'] = nl.format_sci(nl.make_sci(mac, kwargs['port']))
        want['port'] = kwargs['port']
    return want


def check_link_cases(proof, ipr, sock, parent):
    for label, kwargs in LINK_CASES:
        delete_link(ipr, MACSEC)
        ok, dummy = proof.call('link add %s (every attribute)' % label,
                               lambda: ipr.link('add', ifname=MACSEC, kind='macsec', link=parent,
                                                **nl.link_data(**kwargs)))
        index = link_index(ipr, MACSEC)
        if not ok or index is None:
            continue
        got, mac = read_link(ipr, index)
        want = expected_link(kwargs, mac)
        for key in sorted(want):
            proof.equal('link %s readback %s' % (label, key), got.get(key), want[key])
        proof.equal('link %s: 6.1 reports no IFLA_MACSEC_OFFLOAD' % label, 'offload' in got, False)
        shown = ip_link_data(MACSEC)
        proof.equal('link %s iproute2 cipher' % label, shown.get('cipher_suite'), label.upper())
        proof.equal('link %s iproute2 encrypt' % label, shown.get('encrypt'), want['encrypt'])
        proof.equal('link %s iproute2 validate' % label, shown.get('validation'), want['validate'])
        proof.equal('link %s iproute2 icv_len/sci/flags' % label,
                    (shown.get('icv_len'), shown.get('sci'), shown.get('protect'), shown.get('inc_sci'),
                     shown.get('es'), shown.get('scb'), shown.get('replay_protect'), shown.get('window'),
                     shown.get('encoding_sa')),
                    (want['icv_len'], want['sci'], want['protect'], want['include_sci'], want['end_station'],
                     want['scb'], want['replay_protect'], want.get('window'), want['encoding_sa']))
        text = run('ip', '-d', 'link', 'show', MACSEC).stdout
        proof.check('link %s iproute2 text' % label,
                    'cipher %s' % label.upper() in text and 'encrypt %s' % ('on' if want['encrypt'] else 'off') in text
                    and 'validate %s' % want['validate'] in text, text)
        secy = dump_one(sock, index)
        if not proof.check('dump %s finds the SecY' % label, secy is not None, 'no SecY of ifindex %d' % index):
            continue
        for key in ('sci', 'cipher', 'icv_len', 'encoding_sa', 'validate', 'protect', 'replay_protect', 'encrypt',
                    'include_sci', 'end_station', 'scb'):
            proof.equal('dump %s secy %s' % (label, key), secy['secy'][key], want[key])
        proof.equal('dump %s secy window' % label, secy['secy']['window'], want.get('window'))
        proof.equal('dump %s cipher_id' % label, secy['secy']['cipher_id'],
                    LEGACY_GCM_AES_128_ID if label == 'gcm-aes-128' else nl.cipher_id(label))
        proof.equal('dump %s offload' % label, secy['offload'], 'off')
    delete_link(ipr, MACSEC)


def check_link_refusals(proof, ipr, parent):
    delete_link(ipr, MACSEC)

    def add(**kwargs):
        extra = dict((key, value) for key, value in kwargs.items() if key.startswith('IFLA_'))
        plain = dict((key, value) for key, value in kwargs.items() if not key.startswith('IFLA_'))
        data = nl.link_data(**plain)
        data.update(extra)
        try:
            return ipr.link('add', ifname=MACSEC, kind='macsec', link=parent, **data)
        except nl.NetlinkError as exc:
            raise nl.link_error(exc, 'add', data, MACSEC) from None
        finally:
            delete_link(ipr, MACSEC)

    for offload in ('phy', 'mac'):
        proof.refused('link add offload %s on virtio/dummy -> EOPNOTSUPP' % offload,
                      lambda: add(port=7, offload=offload), errno.EOPNOTSUPP,
                      ("offers no MACsec offload %r" % offload,))
    proof.call('link add offload off is accepted', lambda: add(port=7, offload='off'))
    proof.value_error('link_data icv_len 17 refused', lambda: nl.link_data(icv_len=17), 'between 8 and 16')
    proof.refused('kernel refuses icv_len 17 too (EINVAL)', lambda: add(port=7, IFLA_MACSEC_ICV_LEN=17),
                  errno.EINVAL, ('ICV length 8..16',))
    proof.value_error('link_data replay without window refused', lambda: nl.link_data(replay_protect=True),
                      'needs a window')
    proof.refused('kernel refuses replay without window too (EINVAL)',
                  lambda: add(port=7, IFLA_MACSEC_REPLAY_PROTECT=1), errno.EINVAL, ('needs a window',))
    proof.value_error('link_data include_sci with end_station refused',
                      lambda: nl.link_data(include_sci=True, end_station=True), 'excludes')
    proof.refused('kernel refuses include_sci with end_station too (EINVAL)',
                  lambda: add(port=7, IFLA_MACSEC_INC_SCI=1, IFLA_MACSEC_ES=1), errno.EINVAL)
    proof.value_error('link_data end_station with scb refused', lambda: nl.link_data(end_station=True, scb=True),
                      'exclude each other')
    proof.refused('kernel refuses end_station with scb too (EINVAL)',
                  lambda: add(port=7, IFLA_MACSEC_ES=1, IFLA_MACSEC_SCB=1, IFLA_MACSEC_INC_SCI=0), errno.EINVAL)
    proof.value_error('link_data XPN window 2^30 refused',
                      lambda: nl.link_data(cipher='gcm-aes-xpn-128', window=1 << 30), 'at most')
    proof.refused('kernel refuses XPN window 2^30 too (EINVAL)',
                  lambda: add(port=7, cipher='gcm-aes-xpn-128', IFLA_MACSEC_WINDOW=1 << 30,
                              IFLA_MACSEC_REPLAY_PROTECT=1), errno.EINVAL)
    proof.value_error('link_data explicit SCI with include_sci off refused',
                      lambda: nl.link_data(sci=SCI_A, include_sci=False), 'explicit SCI needs include_sci')
    proof.value_error('link_data explicit SCI with scb refused', lambda: nl.link_data(sci=SCI_A, scb=True),
                      'explicit SCI needs include_sci')
    proof.refused('kernel refuses an explicit SCI with include_sci off too (EINVAL)',
                  lambda: add(IFLA_MACSEC_SCI=SCI_A, IFLA_MACSEC_INC_SCI=0), errno.EINVAL,
                  ('explicit SCI needs include_sci',))
    proof.call('kernel takes the legacy GCM-AES-128 id on input',
               lambda: add(port=7, IFLA_MACSEC_CIPHER_SUITE=LEGACY_GCM_AES_128_ID))
    ipr.link('add', ifname=MACSEC, kind='macsec', link=parent, **nl.link_data(port=5))

    def add_second(ifname, port):
        data = nl.link_data(port=port)
        try:
            ipr.link('add', ifname=ifname, kind='macsec', link=parent, **data)
        except nl.NetlinkError as exc:
            raise nl.link_error(exc, 'add', data, ifname) from None
        finally:
            delete_link(ipr, 'nlp1')

    proof.refused('link add, same port on the same parent -> EBUSY', lambda: add_second('nlp1', 5), errno.EBUSY,
                  ('choose another port',))
    proof.refused('link add, same name -> EEXIST', lambda: add_second(MACSEC, 9), errno.EEXIST, ('exists already',))
    delete_link(ipr, MACSEC)


CHANGES = (
    ('encrypt off', dict(encrypt=False), {'encrypt': False}),
    ('protect off', dict(protect=False), {'protect': False}),
    ('protect on', dict(protect=True), {'protect': True}),
    ('include_sci off', dict(include_sci=False), {'include_sci': False}),
    ('end_station on', dict(end_station=True), {'end_station': True, 'include_sci': False}),
    ('end_station off, scb on', dict(end_station=False, scb=True), {'end_station': False, 'scb': True}),
    ('scb off, include_sci on', dict(scb=False, include_sci=True), {'scb': False, 'include_sci': True}),
    ('end_station on (include_sci turned off with it)', dict(end_station=True),
     {'end_station': True, 'include_sci': False}),
    ('replay off', dict(replay_protect=False), {'replay_protect': False}),
    ('window 64 (replay on)', dict(window=64), {'replay_protect': True, 'window': 64}),
    ('replay on + window 128', dict(replay_protect=True, window=128), {'replay_protect': True, 'window': 128}),
    ('validate check', dict(validate='check'), {'validate': 'check'}),
    ('validate disabled', dict(validate='disabled'), {'validate': 'disabled'}),
    ('encoding_sa 2', dict(encoding_sa=2), {'encoding_sa': 2}),
)


def set_link(ipr, index, data):
    """IPRoute().link('set') of macsec data, a refusal as MacsecError (nl.link_error)."""
    try:
        ipr.link('set', index=index, kind='macsec', **data)
    except nl.NetlinkError as exc:
        raise nl.link_error(exc, 'set', data, MACSEC) from None


def check_changelink(proof, ipr, sock, parent):
    delete_link(ipr, MACSEC)
    ipr.link('add', ifname=MACSEC, kind='macsec', link=parent,
             **nl.link_data(port=21, window=32, validate='strict', include_sci=True))
    index = link_index(ipr, MACSEC)
    for label, kwargs, want in CHANGES:
        before, dummy = read_link(ipr, index)
        ok, dummy = proof.call('changelink %s accepted' % label,
                               lambda: ipr.link('set', index=index, kind='macsec', **nl.change_link_data(**kwargs)))
        after, dummy = read_link(ipr, index)
        expected = dict(before, **want)
        if not want.get('replay_protect', before.get('replay_protect')):
            expected.pop('window', None)
        proof.equal('changelink %s readback' % label, after, expected)
    secy = dump_one(sock, index)
    now, dummy = read_link(ipr, index)
    keys = ('encrypt', 'protect', 'include_sci', 'end_station', 'scb', 'replay_protect', 'window', 'validate',
            'encoding_sa')
    proof.equal('changelink: genl dump agrees with the link', dict((key, secy['secy'][key]) for key in keys),
                dict((key, now.get(key)) for key in keys))
    proof.call('changelink with link_data(cipher=None, icv_len=None, ...) accepted',
               lambda: ipr.link('set', index=index, kind='macsec',
                                **nl.link_data(cipher=None, icv_len=None, encrypt=True, validate='strict')))
    now, dummy = read_link(ipr, index)
    proof.equal('changelink link_data readback', (now['encrypt'], now['validate']), (True, 'strict'))
    # The offload: Linux 6.1 takes IFLA_MACSEC_OFFLOAD in changelink and does nothing with it.
    for offload in ('phy', 'mac'):
        ok, dummy = proof.call('changelink offload %s is accepted (and ignored by 6.1)' % offload,
                               lambda: ipr.link('set', index=index, kind='macsec',
                                                IFLA_MACSEC_OFFLOAD=nl.OFFLOAD[offload]))
        proof.equal('changelink offload %s left the offload off (genl dump)' % offload,
                    dump_one(sock, index)['offload'], 'off')
    before, dummy = read_link(ipr, index)
    for label, data in (('cipher gcm-aes-256', {'IFLA_MACSEC_CIPHER_SUITE': nl.cipher_id('gcm-aes-256')}),
                        ('cipher gcm-aes-128 (the value it has)',
                         {'IFLA_MACSEC_CIPHER_SUITE': nl.cipher_id('gcm-aes-128')}),
                        ('icv_len 12', {'IFLA_MACSEC_ICV_LEN': 12}),
                        ('icv_len 16 (the value it has)', {'IFLA_MACSEC_ICV_LEN': 16}),
                        ('port 22', {'IFLA_MACSEC_PORT': 22}),
                        ('sci', {'IFLA_MACSEC_SCI': SCI_A}),
                        ('encrypt off + port 21 (the whole change is refused)',
                         {'IFLA_MACSEC_ENCRYPT': 0, 'IFLA_MACSEC_PORT': 21})):
        proof.refused('changelink %s -> EINVAL: needs a new link' % label,
                      functools.partial(set_link, ipr, index, data), errno.EINVAL,
                      ('delete the interface and create it again',))
    after, dummy = read_link(ipr, index)
    proof.equal('changelink refusals left the link as it was', after, before)
    delete_link(ipr, MACSEC)


def check_genl(proof, ipr, sock, parent):
    delete_link(ipr, MACSEC)
    ipr.link('add', ifname=MACSEC, kind='macsec', link=parent, **nl.link_data(port=31))
    index = link_index(ipr, MACSEC)
    secy = dump_one(sock, index)
    proof.equal('genl empty SecY: no TX SA, no RX SC', (secy['tx_sas'], secy['rx_scs']), ([], []))
    proof.equal('genl cipher name of the legacy id', (secy['secy']['cipher'], secy['secy']['cipher_id']),
                ('gcm-aes-128', LEGACY_GCM_AES_128_ID))
    proof.equal('genl ifindex', secy['ifindex'], index)
    proof.equal('genl secy_stats keys', set(secy['secy_stats']), SECY_STATS)
    proof.equal('genl txsc_stats keys', set(secy['txsc_stats']), TXSC_STATS)
    proof.equal('genl offload', secy['offload'], 'off')
    proof.equal('genl oper is true on a new SecY without any SA (6.1)', secy['secy']['oper'], True)
    all_secys = sock.dump()
    proof.check('genl dump() without ifindex lists this SecY', index in [each['ifindex'] for each in all_secys],
                [each['ifindex'] for each in all_secys])

    # RX SC
    proof.call('add_rxsc', lambda: sock.add_rxsc(index, SCI_A))
    secy = dump_one(sock, index)
    scs = secy['rx_scs']
    proof.equal('add_rxsc dump', [(sc['sci'], sc['active'], sc['sas']) for sc in scs],
                [(nl.format_sci(SCI_A), True, [])])
    proof.equal('rxsc stats keys', set(scs[0]['stats']) if scs else None, RXSC_STATS)
    proof.call('update_rxsc active=False', lambda: sock.update_rxsc(index, SCI_A, False))
    proof.equal('update_rxsc dump', rx_sc(dump_one(sock, index), SCI_A)['active'], False)
    text = ip_macsec_text(MACSEC)
    proof.check('iproute2 shows the RX SC off', 'RXSC: %s, state off' % nl.format_sci(SCI_A) in text, text)
    proof.call('update_rxsc active=True', lambda: sock.update_rxsc(index, SCI_A, True))
    proof.equal('update_rxsc dump', rx_sc(dump_one(sock, index), SCI_A)['active'], True)
    proof.refused('add_rxsc existing -> EEXIST', lambda: sock.add_rxsc(index, SCI_A), errno.EEXIST,
                  ('exists already',))
    proof.refused('update_rxsc unknown SCI -> ENODEV (not ENOENT)', lambda: sock.update_rxsc(index, SCI_B, False),
                  errno.ENODEV, ('no RX SC %s' % nl.format_sci(SCI_B),))
    proof.refused('del_rxsc unknown SCI -> ENODEV', lambda: sock.del_rxsc(index, SCI_B), errno.ENODEV,
                  ('no RX SC %s' % nl.format_sci(SCI_B),))

    # TX SA
    proof.call('add_txsa AN 0 pn 100', lambda: sock.add_txsa(index, 0, 100, K16, KEYID_A))
    secy = dump_one(sock, index)
    txsa = sa_at(secy['tx_sas'], 0)
    proof.equal('add_txsa dump', dict((key, txsa.get(key)) for key in ('an', 'pn', 'keyid', 'active', 'ssci')),
                {'an': 0, 'pn': 100, 'keyid': KEYID_A.hex(), 'active': True, 'ssci': None})
    proof.equal('txsa stats keys', set(txsa['stats']), TXSA_STATS)
    proof.equal('oper once the encoding SA is active', secy['secy']['oper'], True)
    shown = ip_macsec(MACSEC)
    shown_sa = ([sa for sa in shown.get('sa_list', ()) if sa['an'] == 0] or [{}])[0]
    proof.equal('iproute2 -j TX SA pn/active/keyid', (shown_sa.get('pn'), shown_sa.get('active'), shown_sa.get('key')),
                (100, True, KEYID_A.hex()))
    proof.equal('iproute2 text TX SA', ip_sa_line(ip_macsec_text(MACSEC), 0),
                {'pn': 100, 'ssci': None, 'active': True, 'keyid': KEYID_A.hex()})
    proof.equal('iproute2 -j cipher/encrypt/validate', (shown.get('cipher_suite'), shown.get('encrypt'),
                                                        shown.get('validate')), ('GCM-AES-128', True, 'strict'))
    proof.refused('add_txsa existing AN -> EBUSY (not EEXIST)', lambda: sock.add_txsa(index, 0, 5, K16, KEYID_A),
                  errno.EBUSY, ('AN 0 exists already',))
    proof.refused('add_txsa 32-byte key on GCM-AES-128 -> EINVAL', lambda: sock.add_txsa(index, 1, 5, K32, KEYID_A),
                  errno.EINVAL, ('the key is 32 bytes', 'takes 16-byte keys'))
    proof.refused('add_txsa 64-bit PN (ssci, salt) on GCM-AES-128 -> EINVAL',
                  lambda: sock.add_txsa(index, 1, 5, K16, KEYID_A, ssci=1, salt=SALT), errno.EINVAL,
                  ('sent as 64 bits', '32-bit PNs'))
    proof.value_error('add_txsa 8-byte key id refused before the kernel',
                      lambda: sock.add_txsa(index, 1, 5, K16, KEYID_A[:8]), 'must be 16 bytes')
    short_keyid = [('MACSEC_ATTR_IFINDEX', index),
                   ('MACSEC_ATTR_SA_CONFIG', {'attrs': [('MACSEC_SA_ATTR_AN', 1), ('MACSEC_SA_ATTR_PN', b'\x05\0\0\0'),
                                                        ('MACSEC_SA_ATTR_KEY', K16),
                                                        ('MACSEC_SA_ATTR_KEYID', KEYID_A[:8])]})]
    proof.refused('kernel refuses an 8-byte key id too (EINVAL)',
                  lambda: sock.request(nl.MACSEC_CMD_ADD_TXSA, short_keyid), errno.EINVAL)
    proof.call('add_txsa AN 1 inactive', lambda: sock.add_txsa(index, 1, 7, K16, KEYID_B, active=False))
    proof.equal('add_txsa inactive dump', sa_at(dump_one(sock, index)['tx_sas'], 1)['active'], False)
    proof.call('update_txsa AN 1 pn 500 active', lambda: sock.update_txsa(index, 1, pn=500, active=True))
    txsa = sa_at(dump_one(sock, index)['tx_sas'], 1)
    proof.equal('update_txsa dump', (txsa['pn'], txsa['active'], txsa['keyid']), (500, True, KEYID_B.hex()))
    proof.call('update_txsa AN 1 active=False only', lambda: sock.update_txsa(index, 1, active=False))
    txsa = sa_at(dump_one(sock, index)['tx_sas'], 1)
    proof.equal('update_txsa active only keeps the PN', (txsa['pn'], txsa['active']), (500, False))
    proof.call('update_txsa AN 1 pn 400 (lower) accepted', lambda: sock.update_txsa(index, 1, pn=400))
    proof.equal('update_txsa lower PN dump', sa_at(dump_one(sock, index)['tx_sas'], 1)['pn'], 400)
    proof.refused('update_txsa unknown AN -> ENODEV', lambda: sock.update_txsa(index, 3, pn=5), errno.ENODEV,
                  ('no TX SA with AN 3',))
    proof.refused('del_txsa unknown AN -> ENODEV', lambda: sock.del_txsa(index, 3), errno.ENODEV,
                  ('no TX SA with AN 3',))
    proof.refused('del_txsa active -> EBUSY', lambda: sock.del_txsa(index, 0), errno.EBUSY,
                  ('AN 0 is in use', 'deactivate it first'))
    proof.call('update_txsa AN 0 active=False', lambda: sock.update_txsa(index, 0, active=False))
    proof.call('del_txsa AN 0 (inactive)', lambda: sock.del_txsa(index, 0))
    proof.equal('del_txsa dump', [sa['an'] for sa in dump_one(sock, index)['tx_sas']], [1])

    # RX SA
    proof.call('add_rxsa AN 0 pn 1', lambda: sock.add_rxsa(index, SCI_A, 0, 1, K16, KEYID_A))
    rxsa = sa_at(rx_sc(dump_one(sock, index), SCI_A)['sas'], 0)
    proof.equal('add_rxsa dump', dict((key, rxsa.get(key)) for key in ('an', 'pn', 'keyid', 'active', 'ssci')),
                {'an': 0, 'pn': 1, 'keyid': KEYID_A.hex(), 'active': True, 'ssci': None})
    proof.equal('rxsa stats keys', set(rxsa['stats']), RXSA_STATS)
    proof.refused('add_rxsa existing AN -> EBUSY', lambda: sock.add_rxsa(index, SCI_A, 0, 1, K16, KEYID_A),
                  errno.EBUSY, ('AN 0 exists already',))
    proof.refused('add_rxsa unknown RX SC -> ENODEV', lambda: sock.add_rxsa(index, SCI_B, 0, 1, K16, KEYID_A),
                  errno.ENODEV, ('no RX SC %s' % nl.format_sci(SCI_B),))
    proof.refused('add_rxsa 32-byte key -> EINVAL', lambda: sock.add_rxsa(index, SCI_A, 1, 1, K32, KEYID_A),
                  errno.EINVAL, ('the key is 32 bytes', 'takes 16-byte keys'))
    proof.call('update_rxsa pn 1000 active=False', lambda: sock.update_rxsa(index, SCI_A, 0, pn=1000, active=False))
    rxsa = sa_at(rx_sc(dump_one(sock, index), SCI_A)['sas'], 0)
    proof.equal('update_rxsa dump', (rxsa['pn'], rxsa['active']), (1000, False))
    shown = ip_macsec(MACSEC)
    shown_sc = ([sc for sc in shown.get('rx_sc', ()) if sc['sci'] == '0x%x' % SCI_A] or [{}])[0]
    shown_sa = ([sa for sa in shown_sc.get('sa_list', ()) if sa['an'] == 0] or [{}])[0]
    proof.equal('iproute2 -j RX SA pn/active/keyid', (shown_sa.get('pn'), shown_sa.get('active'), shown_sa.get('key')),
                (1000, False, KEYID_A.hex()))
    proof.equal('iproute2 text RX SA', ip_sa_line(ip_macsec_text(MACSEC), 0, 'RXSC'),
                {'pn': 1000, 'ssci': None, 'active': False, 'keyid': KEYID_A.hex()})
    proof.refused('update_rxsa unknown AN -> ENODEV', lambda: sock.update_rxsa(index, SCI_A, 2, pn=5), errno.ENODEV,
                  ('no RX SA with AN 2 on RX SC',))
    proof.call('update_rxsa active=True', lambda: sock.update_rxsa(index, SCI_A, 0, active=True))
    proof.refused('del_rxsa active -> EBUSY', lambda: sock.del_rxsa(index, SCI_A, 0), errno.EBUSY,
                  ('AN 0 is in use', 'deactivate it first'))
    proof.call('update_rxsa active=False', lambda: sock.update_rxsa(index, SCI_A, 0, active=False))
    proof.call('del_rxsa (inactive)', lambda: sock.del_rxsa(index, SCI_A, 0))
    proof.equal('del_rxsa dump', rx_sc(dump_one(sock, index), SCI_A)['sas'], [])
    proof.call('del_rxsc', lambda: sock.del_rxsc(index, SCI_A))
    proof.equal('del_rxsc dump', dump_one(sock, index)['rx_scs'], [])
    proof.call('add_rxsc + active RX SA',
               lambda: (sock.add_rxsc(index, SCI_B), sock.add_rxsa(index, SCI_B, 3, 9, K16, KEYID_B)))
    proof.call('del_rxsc with an active SA is allowed', lambda: sock.del_rxsc(index, SCI_B))
    proof.equal('del_rxsc with SA dump', dump_one(sock, index)['rx_scs'], [])

    # offload and wrong interfaces
    for offload in ('phy', 'mac'):
        proof.refused('set_offload %s -> EOPNOTSUPP' % offload, lambda: sock.set_offload(index, offload),
                      errno.EOPNOTSUPP, ("offers no MACsec offload %r" % offload,))
    proof.call('set_offload off', lambda: sock.set_offload(index, 'off'))
    proof.equal('set_offload dump', dump_one(sock, index)['offload'], 'off')
    proof.equal('iproute2 offload', ip_macsec(MACSEC).get('offload'), 'off')
    proof.refused('add_txsa on a dummy ifindex -> ENODEV', lambda: sock.add_txsa(parent, 2, 1, K16, KEYID_A),
                  errno.ENODEV, ('is not a MACsec interface',))
    proof.refused('del_rxsc on an absent ifindex -> ENODEV', lambda: sock.del_rxsc(987654, SCI_A), errno.ENODEV,
                  ('is not a MACsec interface',))
    delete_link(ipr, MACSEC)


def check_xpn(proof, ipr, sock, parent):
    delete_link(ipr, MACSEC)
    ipr.link('add', ifname=MACSEC, kind='macsec', link=parent, **nl.link_data(cipher='gcm-aes-xpn-256', port=41))
    index = link_index(ipr, MACSEC)
    pn = (1 << 32) + 5
    proof.call('XPN add_txsa pn 2^32+5 ssci salt',
               lambda: sock.add_txsa(index, 0, pn, K32, KEYID_A, ssci=0x01020304, salt=SALT))
    secy = dump_one(sock, index)
    txsa = sa_at(secy['tx_sas'], 0)
    proof.equal('XPN dump cipher', (secy['secy']['cipher'], secy['secy']['cipher_id']),
                ('gcm-aes-xpn-256', nl.cipher_id('gcm-aes-xpn-256')))
    proof.equal('XPN add_txsa dump', dict((key, txsa.get(key)) for key in ('pn', 'ssci', 'keyid', 'active')),
                {'pn': pn, 'ssci': 0x01020304, 'keyid': KEYID_A.hex(), 'active': True})
    line = ip_sa_line(ip_macsec_text(MACSEC), 0)
    proof.equal('iproute2 text XPN TX SA (6.1 prints the low 32 bits of the PN; SSCI in hex)', line,
                {'pn': pn & 0xffffffff, 'ssci': '01020304', 'active': True, 'keyid': KEYID_A.hex()})
    proof.equal('iproute2 -j SSCI', ([sa for sa in ip_macsec(MACSEC)['sa_list'] if sa['an'] == 0] or [{}])[0].get('ssci'),
                '0x1020304')
    proof.call('XPN update_txsa pn 2^33+1 (xpn looked up)', lambda: sock.update_txsa(index, 0, pn=(1 << 33) + 1))
    proof.equal('XPN update_txsa dump', sa_at(dump_one(sock, index)['tx_sas'], 0)['pn'], (1 << 33) + 1)
    proof.refused('XPN update_txsa with a 32-bit PN -> EINVAL', lambda: sock.update_txsa(index, 0, pn=7, xpn=False),
                  errno.EINVAL, ('sent as 32 bits', '64-bit PNs'))
    proof.value_error('XPN add_txsa without salt refused before the kernel',
                      lambda: sock.add_txsa(index, 1, 5, K32, KEYID_A, ssci=1), 'needs salt')
    no_salt = nl.txsa_attrs(index, 1, 5, K32, KEYID_A, True, xpn=True)
    proof.refused('kernel refuses an XPN SA without ssci/salt (EINVAL)',
                  lambda: sock.request(nl.MACSEC_CMD_ADD_TXSA, no_salt), errno.EINVAL, ('needs ssci and salt',))
    proof.refused('XPN add_txsa 16-byte key on GCM-AES-XPN-256 -> EINVAL',
                  lambda: sock.add_txsa(index, 1, 5, K16, KEYID_A, ssci=1, salt=SALT), errno.EINVAL,
                  ('the key is 16 bytes', 'takes 32-byte keys'))
    proof.call('XPN add_rxsc', lambda: sock.add_rxsc(index, SCI_B))
    proof.call('XPN add_rxsa pn 2^40',
               lambda: sock.add_rxsa(index, SCI_B, 1, 1 << 40, K32, KEYID_B, ssci=7, salt=SALT))
    rxsa = sa_at(rx_sc(dump_one(sock, index), SCI_B)['sas'], 1)
    proof.equal('XPN add_rxsa dump', dict((key, rxsa.get(key)) for key in ('pn', 'ssci', 'keyid', 'active')),
                {'pn': 1 << 40, 'ssci': 7, 'keyid': KEYID_B.hex(), 'active': True})
    proof.call('XPN update_rxsa pn 2^40+9 (xpn looked up)', lambda: sock.update_rxsa(index, SCI_B, 1,
                                                                                     pn=(1 << 40) + 9))
    proof.equal('XPN update_rxsa dump', sa_at(rx_sc(dump_one(sock, index), SCI_B)['sas'], 1)['pn'], (1 << 40) + 9)
    delete_link(ipr, MACSEC)


def check_module_loading(proof):
    """MacsecSocket and link add when the macsec module is not loaded: possible only while no macsec link exists."""
    stuck = os.path.isdir('/sys/module/macsec') and run('modprobe', '-r', 'macsec', check=False).returncode != 0
    if stuck:
        proof.skip('MacsecSocket without the macsec module', 'the module is in use or built in: cannot unload it')
        return
    try:
        with nl.MacsecSocket() as sock:
            sock.dump()
        proof.check('MacsecSocket without the macsec module: the genl lookup loads it (alias genl family macsec)',
                    os.path.isdir('/sys/module/macsec'), '/sys/module/macsec missing')
    except nl.MacsecError as exc:
        proof.equal('MacsecSocket without the macsec module -> ENODEV "%s"' % nl.NO_MACSEC,
                    (exc.code, exc.message), (errno.ENODEV, nl.NO_MACSEC))


def main_checks():
    proof = Proof()
    started = time.time()
    proof.info('python %s, pyroute2 %s from %s, kernel %s' % (platform.python_version(), pyroute2_version(),
                                                              os.path.dirname(sys.modules['pyroute2'].__file__),
                                                              platform.release()))
    proof.equal('register_link_kind', nl.register_link_kind(), True)
    with IPRoute() as ipr:
        for ifname in (MACSEC, 'nlp1'):
            delete_link(ipr, ifname)
        check_module_loading(proof)
        run('modprobe', 'macsec')
        run('modprobe', 'dummy')
        delete_link(ipr, DUMMY)
        ipr.link('add', ifname=DUMMY, kind='dummy')
        parent = link_index(ipr, DUMMY)
        ipr.link('set', index=parent, state='up')
        try:
            with nl.MacsecSocket() as sock:
                for section in (check_link_cases, check_link_refusals, check_changelink, check_genl, check_xpn):
                    lap = time.time()
                    try:
                        if section is check_link_refusals:
                            section(proof, ipr, parent)
                        else:
                            section(proof, ipr, sock, parent)
                    except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others
                        proof.check(section.__name__, False, 'aborted: %s: %s' % (type(exc).__name__, exc))
                    proof.info('%s took %.1f s' % (section.__name__, time.time() - lap))
        finally:
            delete_link(ipr, MACSEC)
            delete_link(ipr, DUMMY)
    return proof.summary(started)


# ---------------------------------------------------------------------------------------------------------------
# traffic: vm1 by our netlink code, the peer by iproute2
# ---------------------------------------------------------------------------------------------------------------

def peer_script(peer_macs):
    """Shell script for the peer: `sh peer.sh up|ping|down`, plain iproute2 only."""
    lines = ['#!/bin/sh', '# Generated by netlink_proof.py peer-script: the peer side of the interop test.',
             'set -eu', 'action=${1:-up}', 'case $action in', 'up)', '    modprobe macsec']
    for spec, mac in zip(TRAFFIC, peer_macs):
        dev, parent = spec['ifname'], spec['parent']
        xpn = spec['cipher'] in ('gcm-aes-xpn-128', 'gcm-aes-xpn-256')
        pn_word = 'xpn' if xpn else 'pn'
        tx_extra = ' ssci %08x salt %s' % (spec['ssci2'], spec['salt2']) if xpn else ''
        rx_extra = ' ssci %08x salt %s' % (spec['ssci1'], spec['salt1']) if xpn else ''
        lines += [
            '    ip link del %s 2>/dev/null || true' % dev,
            '    ip link set %s up' % parent,
            '    ip link add link %s %s type macsec port 1 encrypt on%s' % (
                parent, dev, ' cipher %s' % spec['cipher'] if spec['cipher'] != 'gcm-aes-128' else ''),
            '    ip macsec add %s tx sa 0 %s %d%s on key 02 %s' % (dev, pn_word, spec['pn2'], tx_extra, spec['key2']),
            '    ip macsec add %s rx port 1 address %s' % (dev, mac),
            '    ip macsec add %s rx port 1 address %s sa 0 %s %d%s on key 01 %s' % (
                dev, mac, pn_word, spec['pn1'], rx_extra, spec['key1']),
            '    echo 1 > /proc/sys/net/ipv6/conf/%s/disable_ipv6' % dev,
            '    ip address add %s.2/24 dev %s' % (spec['net'], dev),
            '    ip link set %s up' % dev,
        ]
    lines += ['    ip macsec show', '    ;;', 'ping)']
    for spec in TRAFFIC:
        lines.append('    ping -c 3 -i 0.5 -W 5 %s.1' % spec['net'])
    lines += ['    ip -s macsec show', '    ;;', 'down)']
    for spec in TRAFFIC:
        lines.append('    ip link del %s 2>/dev/null || true' % spec['ifname'])
    lines += ['    ;;', '*)', '    echo "usage: $0 up|ping|down" >&2', '    exit 2', '    ;;', 'esac', '']
    return '\n'.join(lines)


def main_traffic(peer_macs):
    proof = Proof()
    started = time.time()
    proof.info('python %s, pyroute2 %s, kernel %s' % (platform.python_version(), pyroute2_version(),
                                                      platform.release()))
    run('modprobe', 'macsec')
    with IPRoute() as ipr, nl.MacsecSocket() as sock:
        for spec, peer_mac in zip(TRAFFIC, peer_macs):
            dev, cipher = spec['ifname'], spec['cipher']
            xpn = cipher in nl.XPN_CIPHERS
            delete_link(ipr, dev)
            parent = link_index(ipr, spec['parent'])
            ipr.link('set', index=parent, state='up')
            ok, dummy = proof.call('%s %s: link add (our netlink)' % (dev, cipher),
                                   lambda: ipr.link('add', ifname=dev, kind='macsec', link=parent,
                                                    **nl.link_data(cipher=cipher, port=1, encrypt=True)))
            if not ok:
                continue
            index = link_index(ipr, dev)
            peer_sci = nl.make_sci(peer_mac, 1)
            xpn_tx = dict(ssci=spec['ssci1'], salt=spec['salt1']) if xpn else {}
            xpn_rx = dict(ssci=spec['ssci2'], salt=spec['salt2']) if xpn else {}
            proof.call('%s: add_txsa AN 0 pn %d' % (dev, spec['pn1']),
                       lambda: sock.add_txsa(index, 0, spec['pn1'], spec['key1'], KEYID1, **xpn_tx))
            proof.call('%s: add_rxsc %s' % (dev, nl.format_sci(peer_sci)), lambda: sock.add_rxsc(index, peer_sci))
            proof.call('%s: add_rxsa AN 0 pn %d' % (dev, spec['pn2']),
                       lambda: sock.add_rxsa(index, peer_sci, 0, spec['pn2'], spec['key2'], KEYID2, **xpn_rx))
            with open('/proc/sys/net/ipv6/conf/%s/disable_ipv6' % dev, 'w', encoding='ascii') as handle:
                handle.write('1')
            ipr.addr('add', index=index, address='%s.1' % spec['net'], prefixlen=24)
            ipr.link('set', index=index, state='up')
        time.sleep(1)
        for spec, peer_mac in zip(TRAFFIC, peer_macs):
            dev, cipher = spec['ifname'], spec['cipher']
            index = link_index(ipr, dev)
            if index is None:
                continue
            peer_sci = nl.make_sci(peer_mac, 1)
            pinged = run('ping', '-c', '3', '-i', '0.5', '-W', '5', '%s.2' % spec['net'], check=False)
            proof.check('%s %s: ping %s.2 (peer by iproute2)' % (dev, cipher, spec['net']), pinged.returncode == 0,
                        pinged.stdout[-300:])
            secy = dump_one(sock, index)
            txsa = sa_at(secy['tx_sas'], 0)
            scs = [sc for sc in secy['rx_scs'] if sc['sci'] == nl.format_sci(peer_sci)]
            rxsa = sa_at(scs[0]['sas'], 0) if scs else None
            if not proof.check('%s: dump has the TX SA and the RX SA' % dev, txsa and rxsa, secy):
                continue
            sent = txsa['stats']['out_pkts_encrypted'] + txsa['stats']['out_pkts_protected']
            received = rxsa['stats']['in_pkts_ok']
            proof.info('%s: TX SA next PN %d (start %d, %d frames sent); RX SA PN %d (peer started at %d, %d frames '
                       'in OK); txsc %s; rxsc %s' % (dev, txsa['pn'], spec['pn1'], sent, rxsa['pn'], spec['pn2'],
                                                     received, secy['txsc_stats'], scs[0]['stats']))
            proof.check('%s: frames were encrypted and decrypted' % dev,
                        txsa['stats']['out_pkts_encrypted'] > 0 and received > 0, (txsa['stats'], rxsa['stats']))
            proof.equal('%s: TX SA PN is the next PN (start + frames sent)' % dev, txsa['pn'], spec['pn1'] + sent)
            proof.equal('%s: RX SA PN is the next expected PN (last received + 1)' % dev, rxsa['pn'],
                        spec['pn2'] + received)
            shown = ip_macsec(dev)
            shown_sa = ([sa for sa in shown.get('sa_list', ()) if sa['an'] == 0] or [{}])[0]
            proof.equal('%s: iproute2 TX SA PN (low 32 bits) and key id' % dev,
                        (shown_sa.get('pn'), shown_sa.get('key')), (txsa['pn'] & 0xffffffff, KEYID1))
            if cipher in nl.XPN_CIPHERS:
                proof.check('%s: 64-bit TX PN above 2^32' % dev, txsa['pn'] > 1 << 32, txsa['pn'])
                proof.equal('%s: SSCI of TX and RX SA' % dev, (txsa.get('ssci'), rxsa.get('ssci')),
                            (spec['ssci1'], spec['ssci2']))
            proof.equal('%s: iproute2 cipher/encrypt' % dev, (shown.get('cipher_suite'), shown.get('encrypt')),
                        (cipher.upper(), True))
    return proof.summary(started)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('mode', nargs='?', default='checks', choices=('checks', 'traffic', 'peer-script'))
    parser.add_argument('--peer-mac1', help='MAC of the peer NIC on the wire of eth1')
    parser.add_argument('--peer-mac2', help='MAC of the peer NIC on the wire of eth2')
    args = parser.parse_args(argv)
    if args.mode != 'checks' and not (args.peer_mac1 and args.peer_mac2):
        parser.error('%s needs --peer-mac1 and --peer-mac2' % args.mode)
    return args


def main(argv=None):
    global nl, IPRoute  # pylint: disable=global-statement
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.mode == 'peer-script':
        sys.stdout.write(peer_script((args.peer_mac1, args.peer_mac2)))
        return 0
    from pyroute2 import IPRoute as ipr_class
    from ansible_collections.l2sec.macsec.plugins.module_utils import _netlink_macsec as module
    nl, IPRoute = module, ipr_class
    if os.geteuid() != 0:
        print('FAIL root: run as root (netlink changes need CAP_NET_ADMIN)')
        return 1
    if args.mode == 'traffic':
        return main_traffic((args.peer_mac1, args.peer_mac2))
    return main_checks()


if __name__ == '__main__':
    sys.exit(main())
