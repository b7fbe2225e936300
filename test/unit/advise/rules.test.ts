import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decide, type Recommendation } from '../../../src/advise/decide.js';
import type { Workload } from '../../../src/advise/profile.js';
import { RULES } from '../../../src/advise/rules.js';
import { ROOT, withAnswers } from './fixtures.js';

/**
 * One case per rule of the common comparison's Decision Framework, security section, cost section and
 * hybrid approach: a workload that makes it fire, and what the advice then is.
 */
const FIRING: Record<string, { workload: Workload; recommendation: Recommendation }> = {
  'DF-VM-1': { workload: withAnswers({ os: 'windows' }), recommendation: 'vm' },
  'DF-VM-2': { workload: withAnswers({ tenancy: 'multi', architecture: 'monolith', scaling: 'slow', parity: false, memoryBytes: 8 * 2 ** 30 }), recommendation: 'vm' },
  'DF-VM-3': { workload: withAnswers({ legacy: true }), recommendation: 'vm' },
  'DF-VM-4': { workload: withAnswers({ fullOsAccess: true }), recommendation: 'vm' },
  'DF-VM-5': { workload: withAnswers({ compliance: ['iso27001'] }), recommendation: 'hybrid' },
  'DF-C-1': { workload: withAnswers({}), recommendation: 'container' },
  'DF-C-2': { workload: withAnswers({ architecture: 'monolith', scaling: 'fast' }), recommendation: 'container' },
  'DF-C-3': { workload: withAnswers({ parity: true }), recommendation: 'container' },
  'DF-C-4': { workload: withAnswers({ memoryBytes: 256 * 2 ** 20 }), recommendation: 'container' },
  'DF-C-5': { workload: withAnswers({ architecture: 'batch' }), recommendation: 'container' },
  'SEC-VM-1': { workload: withAnswers({ tenancy: 'multi', trust: 'untrusted' }), recommendation: 'hybrid' },
  'SEC-VM-2': { workload: withAnswers({ legacy: true }), recommendation: 'vm' },
  'SEC-VM-3': { workload: withAnswers({ compliance: ['hipaa'] }), recommendation: 'hybrid' },
  'SEC-VM-4': { workload: withAnswers({ tenancy: 'multi' }), recommendation: 'hybrid' },
  'SEC-C-1': { workload: withAnswers({ tenancy: 'single' }), recommendation: 'container' },
  'SEC-C-2': { workload: withAnswers({ trust: 'trusted' }), recommendation: 'container' },
  'SEC-C-3': { workload: withAnswers({ legacy: false }), recommendation: 'container' },
  'SEC-C-4': { workload: withAnswers({ trust: 'untrusted', tenancy: 'single' }), recommendation: 'hardened-container' },
  'HYB-1': { workload: withAnswers({ tenancy: 'multi', architecture: 'microservice' }), recommendation: 'hybrid' },
  'COST-VM-1': { workload: withAnswers({ os: 'windows' }), recommendation: 'vm' },
};

for (const [id, { workload, recommendation }] of Object.entries(FIRING)) {
  test(`rule ${id} fires and the advice follows it`, () => {
    const d = decide(workload);
    assert.ok(d.fired.some((r) => r.id === id), `${id} did not fire; fired: ${d.fired.map((r) => r.id).join(', ')}`);
    assert.equal(d.recommendation, recommendation);
  });
}

test('every rule that advise evaluates has a firing case above', () => {
  const evaluated = RULES.filter((r) => r.when).map((r) => r.id);
  assert.deepEqual(evaluated.filter((id) => !(id in FIRING)), []);
});

test('a rule does not fire when its answer points the other way', () => {
  const ids = (w: Workload) => decide(w).fired.map((r) => r.id);
  assert.ok(!ids(withAnswers({ os: 'linux' })).includes('DF-VM-1'));
  assert.ok(!ids(withAnswers({ tenancy: 'multi', trust: 'trusted' })).includes('SEC-VM-1'));
  assert.ok(!ids(withAnswers({ compliance: ['iso27001'] })).includes('SEC-VM-3'), 'SEC-VM-3 names PCI-DSS and HIPAA only');
  assert.ok(!ids(withAnswers({ memoryBytes: 16 * 2 ** 30 })).includes('DF-C-4'));
  assert.ok(!ids(withAnswers({ trust: 'untrusted', tenancy: 'multi' })).includes('SEC-C-4'), 'multi-tenant untrusted code needs more than hardening');
});

test('rule ids are unique and every rule quotes a sentence', () => {
  assert.equal(new Set(RULES.map((r) => r.id)).size, RULES.length);
  for (const r of RULES) assert.ok(r.quote.length > 5 && r.section.length > 0, r.id);
});

/** The comparison's text, where the project keeps it (outside the repository, not shipped). */
const sourcePath = [join(ROOT, 'shared'), join(ROOT, '..', 'shared')]
  .map((dir) => join(dir, 'seed', 'vm-vs-container.md'))
  .find(existsSync) ?? 'shared/seed/vm-vs-container.md';
test('every quote is verbatim in the source comparison', { skip: existsSync(sourcePath) ? false : `source text not found at ${sourcePath}` }, () => {
  const source = readFileSync(sourcePath, 'utf8');
  for (const r of RULES) assert.ok(source.includes(r.quote), `${r.id}: "${r.quote}" is not in the source comparison`);
});
