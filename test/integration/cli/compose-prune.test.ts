import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, nftObjects, type CliResult, type Fixture } from '../../helpers/fixture.js';
import { frontKey } from '../../../src/compose/front.js';
import { freePort } from '../../helpers/registry.js';

/**
 * `system prune` and a service's published port (one DNAT rule the service owns, not a replica):
 * when the service's replicas are gone without `compose down` (removed by hand, or a CLI killed
 * between them and the rule), prune removes the rule; while replicas run, it points the rule at
 * them (one removed by hand was still a target).
 */
let fx: Fixture | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-prune-'));
const P = `pr${process.pid}`;
const file = path.join(dir, 'compose.yaml');
const compose = (args: string[]) => isola(fx?.root ?? '', ['compose', '-f', file, '-p', P, ...args], { timeoutMs: 120_000 });

after(async () => {
  // After a failure too: what the stack still has (replicas, its network, its rule) goes first.
  if (fx) {
    await compose(['down']).catch(() => undefined);
    await fx.dispose();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

test('system prune points a service\'s published-port rule at its running replicas, and removes it with the last one', { timeout: 300_000 }, async () => {
  fx = await makeFixture();
  const port = await freePort();
  fs.writeFileSync(file, `services:\n  web:\n    image: base\n    command: ["sleep", "86400"]\n    ports: ["127.0.0.1:${port}:80"]\n    deploy: {replicas: 2}\n`);
  const key = frontKey(P, 'web');
  const rules = () => nftObjects().filter((o) => o.includes(key));
  // The rule's own text, with every address it sends to.
  const ruleText = () => execFileSync('nft', ['list', 'chain', 'ip', 'isola', 'publish'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(key)).join('\n');
  ok(await compose(['up', '-d']));
  assert.equal(rules().length, 1, 'the service publishes its port');
  const replicas = JSON.parse(ok(await compose(['ps', '-a', '--json'])).stdout) as { id: string; name: string; ip: string }[];
  assert.equal(replicas.length, 2);
  for (const r of replicas) assert.match(ruleText(), new RegExp(`\\b${r.ip.replaceAll('.', '\\.')}\\b`), `the rule sends to ${r.name}`);
  // Running replicas that the rule already sends to: prune leaves it alone.
  const kept = ok(await isola(fx.root, ['system', 'prune']));
  assert.doesNotMatch(kept.stdout, /published ports/);
  // One replica removed behind compose's back: the rule still sends to it until prune.
  const [gone, left] = [replicas[1], replicas[0]] as [{ id: string; ip: string }, { id: string; ip: string }];
  ok(await isola(fx.root, ['rm', '-f', gone.id]));
  assert.match(ruleText(), new RegExp(`\\b${gone.ip.replaceAll('.', '\\.')}\\b`));
  const repointed = ok(await isola(fx.root, ['system', 'prune']));
  assert.match(repointed.stdout, new RegExp(`the published ports of service\\(s\\) ${P}/web pointed at their running replicas`));
  assert.doesNotMatch(ruleText(), new RegExp(`\\b${gone.ip.replaceAll('.', '\\.')}\\b`), 'the removed replica is no longer a target');
  assert.match(ruleText(), new RegExp(`${left.ip.replaceAll('.', '\\.')}:80`), 'the running one is');
  assert.equal(rules().length, 1);
  // The last replica removed by hand: prune removes the rule.
  ok(await isola(fx.root, ['rm', '-f', left.id]));
  assert.equal(rules().length, 1, 'rm of the replicas leaves the service\'s rule');
  const pr = ok(await isola(fx.root, ['system', 'prune']));
  assert.match(pr.stdout, new RegExp(`the published ports of service\\(s\\) ${P}/web(,|$)`, 'm'));
  assert.deepEqual(rules(), []);
  ok(await compose(['down']));
  assert.deepEqual(hostLeftovers(fx), []);
});
