import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, nftObjects, type CliResult, type Fixture } from '../../helpers/fixture.js';
import { frontKey } from '../../../src/compose/front.js';
import { freePort } from '../../helpers/registry.js';

/**
 * `system prune` and a service's published port (one DNAT rule the service owns, not a replica):
 * when the service's replicas are gone without `compose down` (removed by hand, or a CLI killed
 * between them and the rule), prune removes the rule; while a replica runs, it keeps it.
 */
let fx: Fixture | undefined;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-prune-'));

after(async () => {
  if (fx) await fx.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

function ok(r: CliResult): CliResult {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

test('system prune removes the published-port rule of a service with no replica left, and keeps a live one', { timeout: 300_000 }, async () => {
  fx = await makeFixture();
  const port = await freePort();
  const P = `pr${process.pid}`;
  const file = path.join(dir, 'compose.yaml');
  fs.writeFileSync(file, `services:\n  web:\n    image: base\n    command: ["sleep", "86400"]\n    ports: ["127.0.0.1:${port}:80"]\n`);
  const compose = (args: string[]) => isola(fx?.root ?? '', ['compose', '-f', file, '-p', P, ...args], { timeoutMs: 120_000 });
  const key = frontKey(P, 'web');
  const rules = () => nftObjects().filter((o) => o.includes(key));
  ok(await compose(['up', '-d']));
  assert.equal(rules().length, 1, 'the service publishes its port');
  // A running replica: prune keeps the rule.
  const kept = ok(await isola(fx.root, ['system', 'prune']));
  assert.doesNotMatch(kept.stdout, /published ports/);
  assert.equal(rules().length, 1);
  // The replica removed behind compose's back: the rule stays until prune.
  const ids = (JSON.parse(ok(await compose(['ps', '-a', '--json'])).stdout) as { id: string }[]).map((r) => r.id);
  ok(await isola(fx.root, ['rm', '-f', ...ids]));
  assert.equal(rules().length, 1, 'rm of the replicas leaves the service\'s rule');
  const pr = ok(await isola(fx.root, ['system', 'prune']));
  assert.match(pr.stdout, new RegExp(`the published ports of service\\(s\\) ${P}/web`));
  assert.deepEqual(rules(), []);
  ok(await compose(['down']));
  assert.deepEqual(hostLeftovers(fx), []);
});
