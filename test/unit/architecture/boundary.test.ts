import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from '../../helpers/fixture.js';

/** Lints one made-up file as if it lived at `file`: the layering rules must fire where they apply, and only there. */
function lint(file: string, source: string): { status: number | null; stdout: string } {
  const eslint = path.join(REPO, 'node_modules', '.bin', 'eslint');
  const r = spawnSync(eslint, ['--stdin', '--stdin-filename', file], { cwd: REPO, encoding: 'utf8', input: source });
  return { status: r.status, stdout: r.stdout };
}

test('only drivers/registry.ts may import a concrete driver', () => {
  const src = "import { ContainerDriver } from '../drivers/container/driver.js';\nexport const d = ContainerDriver;\n";
  const engine = lint('src/engine/probe.ts', src);
  assert.equal(engine.status, 1, engine.stdout);
  assert.match(engine.stdout, /Only src\/drivers\/registry\.ts may import a concrete driver/);
  const registry = lint('src/drivers/probe.ts', src);
  assert.equal(registry.status, 0, registry.stdout);
});

test('layers below the drivers import no part of drivers/, not even the interface', () => {
  const src = "import type { AnyDriver } from '../drivers/driver.js';\nexport type D = AnyDriver;\n";
  for (const layer of ['image', 'net', 'state', 'guest', 'util', 'export']) {
    const r = lint(`src/${layer}/probe.ts`, src);
    assert.equal(r.status, 1, `${layer}: ${r.stdout}`);
    assert.match(r.stdout, /Layers below the drivers/);
  }
  assert.equal(lint('src/engine/probe.ts', src).status, 0);
});

test('the Kubernetes writers import neither drivers nor the engine', () => {
  const driver = lint('src/export/kube/probe.ts', "import type { AnyDriver } from '../../drivers/driver.js';\nexport type D = AnyDriver;\n");
  assert.equal(driver.status, 1, driver.stdout);
  const engine = lint('src/export/kube/probe.ts', "import type { RunRequest } from '../../engine/request.js';\nexport type R = RunRequest;\n");
  assert.equal(engine.status, 1, engine.stdout);
  assert.match(engine.stdout, /must not import the engine/);
  assert.equal(lint('src/export/kube/probe.ts', "import type { ImageStore } from '../../image/store.js';\nexport type S = ImageStore;\n").status, 0);
});

test('layers below the engine do not import the engine', () => {
  const r = lint('src/image/probe.ts', "import { Engine } from '../engine/engine.js';\nexport const E = Engine;\n");
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /must not import the engine/);
});

test('src/core imports nothing of isola outside src/core', () => {
  const outside = lint('src/core/probe.ts', "import { which } from '../util/which.js';\nexport const w = which;\n");
  assert.equal(outside.status, 1, outside.stdout);
  assert.match(outside.stdout, /src\/core\/ imports nothing of isola/);
  const inside = lint('src/core/probe.ts', "import { invalid } from './errors.js';\nexport const i = invalid;\n");
  assert.equal(inside.status, 0, inside.stdout);
});

test('process.env is read in src/core/config.ts and nowhere else', () => {
  const src = 'export const root = process.env.ISOLA_ROOT;\n';
  const elsewhere = lint('src/drivers/vm/probe.ts', src);
  assert.equal(elsewhere.status, 1, elsewhere.stdout);
  assert.match(elsewhere.stdout, /the one place that reads process\.env/);
  assert.equal(lint('src/core/config.ts', src).status, 0);
});

test('the engine and the security profile do not import the edges', () => {
  for (const layer of ['engine', 'security', 'compose']) {
    const r = lint(`src/${layer}/probe.ts`, "import { withEngine } from '../cli/context.js';\nexport const w = withEngine;\n");
    assert.equal(r.status, 1, `${layer}: ${r.stdout}`);
    assert.match(r.stdout, /sit below the edges/);
  }
});

test('compose is built on the engine, and nothing below the engine imports it', () => {
  assert.equal(lint('src/compose/probe.ts', "import { Engine } from '../engine/engine.js';\nexport const E = Engine;\n").status, 0);
  const concrete = lint('src/compose/probe.ts', "import { ContainerDriver } from '../drivers/container/driver.js';\nexport const d = ContainerDriver;\n");
  assert.equal(concrete.status, 1, concrete.stdout);
  const below = lint('src/net/probe.ts', "import { loadStack } from '../compose/stack.js';\nexport const l = loadStack;\n");
  assert.equal(below.status, 1, below.stdout);
  assert.match(below.stdout, /must not import the engine/);
});

test('drivers do not import the engine or what is built on it', () => {
  const r = lint('src/drivers/vm/probe.ts', "import type { AttachClient } from '../../engine/attach.js';\nexport type A = AttachClient;\n");
  assert.equal(r.status, 1, r.stdout);
  assert.match(r.stdout, /must not import the engine/);
  assert.equal(lint('src/drivers/vm/probe.ts', "import { createTap } from '../../net/tap.js';\nexport const t = createTap;\n").status, 0);
});

test('src/util imports none of the resources above it', () => {
  for (const layer of ['image', 'net', 'state', 'guest', 'export']) {
    const r = lint('src/util/probe.ts', `import * as m from '../${layer}/probe.js';\nexport const x = m;\n`);
    assert.equal(r.status, 1, `${layer}: ${r.stdout}`);
    assert.match(r.stdout, /src\/util\/ sits below the resources/);
  }
  assert.equal(lint('src/net/probe.ts', "import * as m from '../state/db.js';\nexport const x = m;\n").status, 0, 'the resources may import each other');
});
