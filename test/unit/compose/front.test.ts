import { test } from 'node:test';
import assert from 'node:assert/strict';
import { frontKey } from '../../../src/compose/front.js';
import { balancedRuleCommand, parsePublishComment } from '../../../src/net/nft.js';

test('a service\'s fixed port: one rule, round-robin over its replicas, its comment naming the service\'s key', () => {
  const key = frontKey('p', 'web');
  assert.match(key, /^[0-9a-f]{64}$/);
  assert.notEqual(key, frontKey('p', 'db'));
  assert.notEqual(key, frontKey('q', 'web'));
  const one = balancedRuleCommand(key, { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 8080, targetIps: ['10.1.0.2'], targetPort: 80 });
  assert.match(one, /^add rule ip isola publish tcp dport 8080 dnat to 10\.1\.0\.2:80 comment "/);
  const two = balancedRuleCommand(key, { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, targetIps: ['10.1.0.2', '10.1.0.3'], targetPort: 80 });
  assert.match(two, /ip daddr 127\.0\.0\.1 tcp dport 8080 dnat to numgen inc mod 2 map \{ 0 : 10\.1\.0\.2, 1 : 10\.1\.0\.3 \} : 80 comment/);
  const comment = /comment "(.*)"$/.exec(two)?.[1] ?? '';
  assert.deepEqual(parsePublishComment(comment), { instanceId: key, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, targetIp: '10.1.0.2', targetPort: 80 }, 'leak checks and port conflicts read it as any published port');
});
