import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from '../../helpers/fixture.js';

/** The lint rule that keeps the core from importing a concrete driver really fires. */
test('only drivers/registry.ts may import a concrete driver', () => {
  const eslint = path.join(REPO, 'node_modules', '.bin', 'eslint');
  const lint = (file: string) =>
    spawnSync(eslint, ['--stdin', '--stdin-filename', file], {
      cwd: REPO,
      encoding: 'utf8',
      input: "import { containerDriver } from '../drivers/container/driver.js';\nexport const d = containerDriver;\n",
    });
  const engine = lint('src/engine/probe.ts');
  assert.equal(engine.status, 1, engine.stderr);
  assert.match(engine.stdout, /Only src\/drivers\/registry\.ts may import a concrete driver/);
  const registry = lint('src/drivers/probe.ts');
  assert.equal(registry.status, 0, registry.stdout);
});
