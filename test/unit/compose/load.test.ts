import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../../helpers/fixture.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { parseComposeText, variablesFor } from '../../../src/compose/load.js';

const load = (text: string, vars: Record<string, string> = {}) => parseComposeText(text, '/x/compose.yaml', new Map(Object.entries(vars)));

function refused(text: string, pattern: RegExp, vars: Record<string, string> = {}): void {
  assert.throws(() => load(text, vars), (e: unknown) => {
    assert.ok(isIsolaError(e, 'INVALID_ARGUMENT'), String(e));
    assert.doesNotMatch(e.oneLine(), /\n/);
    assert.match(e.oneLine(), pattern);
    return true;
  });
}

test('the schema isola ships is the Compose Specification\'s, unchanged', () => {
  const shared = path.join(REPO, '..', 'shared', 'schemas', 'compose-spec.json');
  assert.ok(fs.existsSync(shared), `the shared schemas are missing at ${shared} (see ../shared/schemas/README.md)`);
  assert.equal(fs.readFileSync(path.join(REPO, 'src', 'compose', 'compose-spec.json'), 'utf8'), fs.readFileSync(shared, 'utf8'));
});

test('a valid file loads, interpolated before validation', () => {
  const f = load('services:\n  web:\n    image: ${IMG:-base}\n    ports: ["${PORT}:80"]\n', { PORT: '8080' });
  assert.deepEqual(f.data, { services: { web: { image: 'base', ports: ['8080:80'] } } });
});

test('schema failures: line:column, the path in the file, the rule broken', () => {
  refused('services:\n  web:\n    image: base\n    imagee: x\n', /^\/x\/compose\.yaml:4:5: services\.web\.imagee is not allowed here \(unknown key\) \(Compose Specification rule #\/definitions\/service\/additionalProperties\); /);
  refused('services:\n  web:\n    image: 5\n', /compose\.yaml:3:12: services\.web\.image must be string \(Compose Specification rule #\/definitions\/service\/properties\/image\/type\)/);
  refused('services:\n  a:\n    image: base\n    depends_on:\n      b: {condition: service_done}\n', /:5:22: services\.a\.depends_on\.b\.condition must be one of "service_started", "service_healthy", "service_completed_successfully"/);
  refused('services:\n  web:\n    image: base\n    healthcheck:\n      retries: [1]\n', /:5:16: services\.web\.healthcheck\.retries must be number/);
  refused('servics: {}\n', /:1:1: servics is not allowed here/);
});

test('YAML syntax errors and interpolation errors carry the position too', () => {
  refused('services:\n  web: [\n', /^\/x\/compose\.yaml:\d+:\d+: not valid YAML/);
  refused('services:\n  web:\n    image: ${IMG?give an image}\n', /compose\.yaml:3:12: IMG: give an image; set the variable/);
  refused('services:\n  web:\n    image: a\n    image: b\n', /not valid YAML/);
});

test('variables: the environment wins over the folder\'s .env', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compose-env-'));
  try {
    fs.writeFileSync(path.join(dir, '.env'), 'A=from-file\nB=from-file\n');
    const v = variablesFor(dir, { B: 'from-env' });
    assert.equal(v.get('A'), 'from-file');
    assert.equal(v.get('B'), 'from-env');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
