import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { InstanceSpec } from '../../../src/core/types.js';
import { isIsolaError } from '../../../src/core/errors.js';
import {
  checkDnsOption, checkDnsSearch, checkDnsServer, etcFilesFor, hostsFile, parseAddHost, parseResolvConf, readEtcFiles, readHostResolv, resolvConf, writeEtcFiles,
} from '../../../src/net/etc-files.js';

const spec = (over: Partial<InstanceSpec> = {}): InstanceSpec => ({
  id: 'a'.repeat(64), name: 'web', kind: 'container', hostname: 'aaaaaaaaaaaa', dir: '/nonexistent',
  network: { mode: 'bridge', bridge: 'isolabr-1234567', ip: '10.78.0.2', prefixLength: 24, gateway: '10.78.0.1', mac: '02:aa:aa:aa:aa:aa', networkId: 'n1', networkName: 'app', ifname: 'eth0' },
  ...over,
} as InstanceSpec);

test('resolv.conf: the host\'s, without loopback or IPv6 nameservers; --dns, --dns-search, --dns-option replace each list', () => {
  const host = parseResolvConf('# a comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver fd00::1\nsearch corp.example lab.example\noptions edns0 trust-ad\n');
  assert.deepEqual(host, { nameservers: ['127.0.0.53', '10.0.0.2', 'fd00::1'], search: ['corp.example', 'lab.example'], options: ['edns0', 'trust-ad'] });
  const plain = resolvConf(host, undefined);
  assert.match(plain, /^nameserver 10\.0\.0\.2$/m);
  assert.doesNotMatch(plain, /127\.0\.0\.53|fd00/);
  assert.match(plain, /^search corp\.example lab\.example$/m);
  assert.match(plain, /^options edns0 trust-ad$/m);
  const mine = resolvConf(host, { servers: ['198.18.7.2'], search: ['.'], options: ['ndots:2'] });
  assert.deepEqual(mine.split('\n').filter((l) => !l.startsWith('#') && l), ['nameserver 198.18.7.2', 'options ndots:2'], '. clears the search list');
  assert.match(resolvConf(host, { servers: [], search: ['x.test'], options: [] }), /^nameserver 10\.0\.0\.2$/m, 'only the lists given are replaced');
});

test('resolv.conf: only loopback resolvers on the host -> systemd-resolved\'s upstream list, else no nameserver and a comment saying why', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-resolv-'));
  try {
    const main = path.join(dir, 'resolv.conf');
    const upstream = path.join(dir, 'upstream.conf');
    fs.writeFileSync(main, 'nameserver 127.0.0.53\nsearch home.example\n');
    fs.writeFileSync(upstream, 'nameserver 10.1.1.1\nsearch other.example\n');
    assert.deepEqual(readHostResolv({ main, upstream }), { nameservers: ['10.1.1.1'], search: ['home.example'], options: [] });
    fs.rmSync(upstream);
    const none = resolvConf(readHostResolv({ main, upstream }), undefined);
    assert.doesNotMatch(none, /^nameserver/m, 'no public resolver is picked on the host\'s behalf');
    assert.match(none, /no nameserver.*--dns/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('/etc/hosts: localhost, the own address with hostname and name, --add-host (host-gateway is the gateway), then the network\'s other instances', () => {
  const s = spec({ extraHosts: [{ host: 'db', ip: '10.9.9.9' }, { host: 'host.isola.internal', ip: 'host-gateway' }, { host: 'v6', ip: 'fd00::5' }] });
  const text = hostsFile(s, [{ name: 'api', ip: '10.78.0.3', network: 'app' }, { name: 'web', ip: '10.78.0.9', network: 'app' }, { name: 'api', ip: '10.79.0.3', network: 'b' }]);
  assert.deepEqual(text.split('\n').filter(Boolean), [
    '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '10.78.0.2\taaaaaaaaaaaa web',
    '10.9.9.9\tdb', '10.78.0.1\thost.isola.internal', 'fd00::5\tv6', '# network app', '10.78.0.3\tapi',
  ], 'its own name is never a peer\'s, and the first address of a name wins');
  assert.deepEqual(hostsFile(spec({ network: { mode: 'none' } }), []).split('\n').filter(Boolean), ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback']);
});

test('aliases (a compose service\'s name): its own line carries them; a peer\'s alias answers with the first peer', () => {
  const s = spec({ aliases: ['front'] });
  const text = hostsFile(s, [{ name: 'p-db-1', ip: '10.78.0.3', network: 'app' }, { name: 'db', ip: '10.78.0.3', network: 'app' },
    { name: 'p-db-2', ip: '10.78.0.4', network: 'app' }, { name: 'db', ip: '10.78.0.4', network: 'app' }, { name: 'front', ip: '10.78.0.5', network: 'app' }]);
  assert.deepEqual(text.split('\n').filter(Boolean), [
    '127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', '10.78.0.2\taaaaaaaaaaaa web front',
    '# network app', '10.78.0.3\tp-db-1', '10.78.0.3\tdb', '10.78.0.4\tp-db-2',
  ]);
});

test('bad --add-host, --dns, --dns-search and --dns-option are refused with the fix', () => {
  assert.deepEqual(parseAddHost('db:10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('db=10.0.0.5'), { host: 'db', ip: '10.0.0.5' });
  assert.deepEqual(parseAddHost('six:[fd00::1]'), { host: 'six', ip: 'fd00::1' });
  assert.deepEqual(parseAddHost('gw:host-gateway'), { host: 'gw', ip: 'host-gateway' });
  for (const bad of ['db', 'db:', ':10.0.0.5', 'db:10.0.0.300', 'bad name:10.0.0.1', 'db:host']) {
    assert.throws(() => parseAddHost(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /--add-host/.test(e.message), bad);
  }
  assert.equal(checkDnsServer('10.0.0.2'), '10.0.0.2');
  for (const bad of ['10.0.0', 'fd00::1', 'dns.example']) assert.throws(() => checkDnsServer(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT'), bad);
  assert.equal(checkDnsSearch('.'), '.');
  assert.throws(() => checkDnsSearch('a b'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
  assert.equal(checkDnsOption('ndots:2'), 'ndots:2');
  assert.throws(() => checkDnsOption('ndots 2'), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});

test('the files are written in place: a bind mount of the old inode sees the new text', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-etc-'));
  try {
    const s = spec({ dir });
    const host = { nameservers: ['10.0.0.2'], search: [], options: [] };
    assert.equal(writeEtcFiles(s, etcFilesFor(s, [], host)), true);
    const ino = fs.statSync(path.join(dir, 'etc', 'hosts')).ino;
    assert.equal(writeEtcFiles(s, etcFilesFor(s, [], host)), false, 'nothing changed, nothing written');
    assert.equal(writeEtcFiles(s, etcFilesFor(s, [{ name: 'api', ip: '10.78.0.3', network: 'app' }], host)), true);
    assert.equal(fs.statSync(path.join(dir, 'etc', 'hosts')).ino, ino);
    assert.match(readEtcFiles(s)?.hosts ?? '', /10\.78\.0\.3\tapi/);
    assert.equal(readEtcFiles(s)?.hostname, 'aaaaaaaaaaaa\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
