import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTAINER_STARTED_LINE, guestConfig } from '../../../src/drivers/hybrid/launch.js';
import { consoleEnd, startedOnConsole } from '../../../src/drivers/hybrid/monitor.js';
import type { InstanceSpec } from '../../../src/core/types.js';

const spec = {
  id: 'a'.repeat(64), name: 'h', kind: 'hybrid', argv: ['true'], env: ['PATH=/bin'], workdir: '/', user: '', hostname: 'h',
  image: { ref: 'base:latest', digest: 'sha256:1', layers: ['/x'], layerDigests: ['sha256:2'], config: { env: [], entrypoint: [], cmd: [], workingDir: '', user: '' } },
  readOnly: false, network: { mode: 'none' },
  security: { privileged: false, capAdd: [], capDrop: [], seccomp: 'default', noNewPrivileges: true },
  runtime: '', dir: '/d', runDir: '/r', cleanupCommand: [],
} as unknown as InstanceSpec;

test('the guest runtime says the container started on the console, through a poststart hook', () => {
  const c = guestConfig({ spec, uid: 0, gid: 0, additionalGids: [], seccomp: null }) as { hooks?: { poststart?: { path: string; args: string[] }[] } };
  const hook = c.hooks?.poststart?.[0];
  assert.equal(hook?.path, '/bin/sh', 'an absolute path in the guest (the runtime runs hooks in its own namespaces)');
  assert.ok(hook?.args.join(' ').includes(CONTAINER_STARTED_LINE));
  assert.match(hook?.args.join(' ') ?? '', /> \/dev\/console$/);
});

test('a start sees only the marker written after its own start, not one of an earlier start in the same console file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-started-'));
  try {
    const file = path.join(dir, 'console.log');
    assert.equal(consoleEnd(file), 0, 'no console file yet');
    assert.equal(startedOnConsole(file, 0), false);
    fs.writeFileSync(file, `isola-init: userspace at 0.4 s\n${CONTAINER_STARTED_LINE}\nisola-init: workload exited with 0\n`);
    assert.equal(startedOnConsole(file, 0), true);
    const from = consoleEnd(file);
    assert.equal(startedOnConsole(file, from), false, 'the first start\'s line does not count for the second');
    fs.appendFileSync(file, 'isola-init: userspace at 0.4 s\n');
    assert.equal(startedOnConsole(file, from), false);
    fs.appendFileSync(file, `${CONTAINER_STARTED_LINE}\n`);
    assert.equal(startedOnConsole(file, from), true);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
