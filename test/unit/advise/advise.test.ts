import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advise } from '../../../src/advise/advise.js';
import { decide } from '../../../src/advise/decide.js';
import { plainContainer, withAnswers } from './fixtures.js';

test('a fully answered container workload is FIT with high certainty and nothing missing', () => {
  const a = advise(plainContainer);
  assert.equal(a.recommendation, 'container');
  assert.equal(a.fit, 'FIT');
  assert.equal(a.certainty, 'high');
  assert.deepEqual(a.missing, []);
  assert.deepEqual(a.blockers, []);
});

test('blockers make containers NO_FIT and are listed', () => {
  const a = advise(withAnswers({ fullOsAccess: true }));
  assert.equal(a.recommendation, 'vm');
  assert.equal(a.fit, 'NO_FIT');
  assert.deepEqual(a.blockers.map((b) => b.rule), ['DF-VM-4']);
});

test('legacy software wins over the reasons for containers: a VM, with effort to containerise', () => {
  const d = decide(withAnswers({ legacy: true, tenancy: 'multi' }));
  assert.equal(d.recommendation, 'vm');
  assert.equal(d.fit, 'REQUIRES_EFFORT');
});

test('isolation without any reason for containers is a VM, not hybrid', () => {
  const d = decide(withAnswers({ tenancy: 'multi', architecture: 'monolith', scaling: 'slow', parity: false, memoryBytes: 8 * 2 ** 30 }));
  assert.equal(d.recommendation, 'vm');
  assert.ok(!d.fired.some((r) => r.id === 'HYB-1'));
});

test('untrusted code of unknown tenancy is at least hardened, never a plain container', () => {
  const w = withAnswers({ trust: 'untrusted' });
  delete w.tenancy;
  assert.equal(decide(w).recommendation, 'hardened-container');
});

test('"if this were single-tenant, a hardened container would do"', () => {
  const a = advise(withAnswers({ trust: 'untrusted', tenancy: 'multi' }));
  assert.equal(a.recommendation, 'hybrid');
  assert.ok(a.wouldChange.some((c) => c.field === 'tenancy' && c.value === 'single' && c.recommendation === 'hardened-container'));
});

test('missing answers are named, not defaulted, and lower the certainty when they could change the answer', () => {
  const a = advise({ name: 'bare', index: 0 });
  assert.equal(a.fit, 'UNKNOWN', 'os and fullOsAccess unknown: it may not run in a container at all');
  assert.equal(a.certainty, 'low');
  const fields = a.missing.map((m) => m.field);
  for (const f of ['os', 'trust', 'tenancy', 'compliance', 'legacy', 'fullOsAccess', 'architecture', 'scaling', 'parity', 'memoryBytes']) {
    assert.ok(fields.includes(f as never), `${f} not named as missing`);
  }
  const os = a.missing.find((m) => m.field === 'os');
  assert.ok(os?.changes.some((c) => c.value === 'windows' && c.recommendation === 'vm'));
  assert.ok(os?.rules.includes('DF-VM-1'));
});

test('a missing answer that cannot change the answer leaves certainty high', () => {
  const w = withAnswers({ os: 'windows' });
  delete w.parity;
  const a = advise(w);
  assert.equal(a.certainty, 'high');
  assert.deepEqual(a.missing.map((m) => [m.field, m.changes.length]), [['parity', 0]]);
});

test('one deciding missing answer gives medium certainty', () => {
  const w = withAnswers({});
  delete w.tenancy;
  const a = advise(w);
  assert.equal(a.certainty, 'medium');
});
