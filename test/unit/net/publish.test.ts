import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { isIsolaError } from '../../../src/core/errors.js';
import { checkDistinct, exposedMappings, mappingText, parsePublish } from '../../../src/net/publish.js';
import { parsePublishComment, parseTable, publishComment, publishRuleCommand, tableScript, type PublishRule } from '../../../src/net/nft.js';
import { which } from '../../../src/util/which.js';

test('-p: address, host port, instance port, protocol, ranges; no host port means one chosen at start', () => {
  assert.deepEqual(parsePublish('8080:80'), [{ hostIp: '0.0.0.0', hostPort: 8080, instancePort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('127.0.0.1:8080:80/udp'), [{ hostIp: '127.0.0.1', hostPort: 8080, instancePort: 80, protocol: 'udp' }]);
  assert.deepEqual(parsePublish('80'), [{ hostIp: '0.0.0.0', hostPort: 0, instancePort: 80, protocol: 'tcp' }]);
  assert.deepEqual(parsePublish('127.0.0.1::53/udp'), [{ hostIp: '127.0.0.1', hostPort: 0, instancePort: 53, protocol: 'udp' }]);
  assert.deepEqual(parsePublish('8000-8001:80-81').map(mappingText), ['0.0.0.0:8000->80/tcp', '0.0.0.0:8001->81/tcp']);
  for (const bad of ['99999:80', '8080:0', 'a:80', '8080:80/sctp', 'fd00::1:80:80', '8000-8002:80-81', '9-1:9-1', '1:2:3:4', '']) {
    assert.throws(() => parsePublish(bad), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /--publish/.test(e.message), bad);
  }
});

test('-P: the image\'s EXPOSE ports not already published by -p; two -p on one host port are refused', () => {
  const explicit = parsePublish('8080:80');
  assert.deepEqual(exposedMappings(['80/tcp', '443/tcp', '53/udp', '9/sctp', 'junk'], explicit).map(mappingText), ['0.0.0.0:0->443/tcp', '0.0.0.0:0->53/udp']);
  assert.doesNotThrow(() => checkDistinct([...parsePublish('8080:80'), ...parsePublish('8080:80/udp'), ...parsePublish('127.0.0.1:8081:80'), ...parsePublish('127.0.0.2:8081:80')]));
  assert.throws(() => checkDistinct([...parsePublish('8080:80'), ...parsePublish('127.0.0.1:8080:81')]), (e) => isIsolaError(e, 'INVALID_ARGUMENT'));
});

const rule: PublishRule = { instanceId: 'c'.repeat(64), protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353, targetIp: '10.78.0.2', targetPort: 53 };

test('a DNAT rule names its instance and mapping in its comment, and reads back from nft\'s JSON', () => {
  assert.deepEqual(parsePublishComment(publishComment(rule)), rule);
  assert.equal(parsePublishComment('someone else\'s rule'), null);
  assert.ok(publishComment(rule).length <= 128, 'nftables comments hold 128 bytes');
  assert.equal(publishRuleCommand(rule), `add rule ip isola publish ip daddr 127.0.0.1 udp dport 5353 dnat to 10.78.0.2:53 comment "${publishComment(rule)}"`);
  assert.doesNotMatch(publishRuleCommand({ ...rule, hostIp: '0.0.0.0' }), /daddr/, 'every address of the host');
  const json = JSON.stringify({ nftables: [
    { table: { family: 'ip', name: 'isola' } },
    { set: { name: 'subnets', elem: [{ prefix: { addr: '10.77.0.0', len: 16 } }, { prefix: { addr: '10.78.0.0', len: 24 } }] } },
    { set: { name: 'own', elem: [{ concat: ['isola0', { prefix: { addr: '10.77.0.0', len: 16 } }] }] } },
    { rule: { chain: 'publish', handle: 9, comment: publishComment(rule), expr: [{ dnat: { addr: '10.78.0.2', port: 53 } }] } },
    { rule: { chain: 'publish', handle: 10, comment: 'not ours' } },
    // A service's rule, spread over its replicas (nft -j's form of `numgen inc mod 2 map { ... }`).
    { rule: { chain: 'publish', handle: 11, comment: publishComment({ ...rule, instanceId: 'd'.repeat(64) }), expr: [{ match: {} }, { dnat: { addr: { map: { key: { numgen: { mode: 'inc', mod: 2, offset: 0 } }, data: { set: [[0, '10.78.0.2'], [1, '10.78.0.3']] } } }, port: 53 } }] } },
  ] });
  assert.deepEqual(parseTable(json), { exists: true, subnets: ['10.77.0.0/16', '10.78.0.0/24'], own: [{ bridge: 'isola0', subnet: '10.77.0.0/16' }], publish: [
    { ...rule, handle: 9, targetIps: ['10.78.0.2'] },
    { ...rule, instanceId: 'd'.repeat(64), handle: 11, targetIps: ['10.78.0.2', '10.78.0.3'] },
  ] });
});

test('the table and a DNAT rule are what nftables accepts (nft --check, nothing applied)', { skip: !which('nft', ['/usr/sbin', '/sbin']) || process.getuid?.() !== 0 ? 'needs nft and root' : false }, () => {
  const script = `${tableScript().replace('table ip isola', 'table ip isola_check')}\n${publishRuleCommand(rule).replace('ip isola ', 'ip isola_check ')}\n`;
  execFileSync('nft', ['-c', '-f', '-'], { input: script });
});
