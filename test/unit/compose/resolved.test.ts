import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { stringify } from 'yaml';
import { REPO } from '../../helpers/fixture.js';
import { parseComposeText } from '../../../src/compose/load.js';
import { buildModel } from '../../../src/compose/model.js';
import { loadStack } from '../../../src/compose/stack.js';
import { resolvedFile } from '../../../src/compose/resolved.js';

test('compose config: the resolved file is valid Compose and reads back as the same stack', () => {
  const file = path.join(REPO, 'examples', 'stack', 'compose.yaml');
  const model = loadStack({ file, profiles: [], cwd: REPO, env: { DB_GREETING: 'from env' } });
  const text = stringify(resolvedFile(model));
  assert.match(text, /GREETING: from env/);
  const again = buildModel(parseComposeText(text, file, new Map()), model.project, []);
  assert.deepEqual(again, model);
});
