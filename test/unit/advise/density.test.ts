import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultAssumptions, override } from '../../../src/advise/assumptions.js';
import { comparisonExample, densityOf } from '../../../src/advise/density.js';
import { capacityOf, parseHostFlag, reservedCores, reservedMemory } from '../../../src/advise/host.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const MB = 1e6;

test("the common comparison's density example, --host 128G/32 --reserved 4G, with its arithmetic", () => {
  const a = defaultAssumptions();
  const cap = capacityOf(parseHostFlag('128G/32'), a, 4 * GiB);
  const [vm, container] = comparisonExample(cap, a);
  assert.ok(vm && container);

  // VMs with 4GB RAM each: (128 GiB - 4 GiB) / (4 GiB + 131 MB QEMU) = 30.08 -> 30; claimed: 25-30.
  const expectedVms = Math.floor((124 * GiB) / Math.ceil(4 * GiB + 131 * MB));
  assert.equal(expectedVms, 30);
  assert.equal(vm.count, expectedVms);
  assert.equal(vm.binds, 'memory');
  assert.deepEqual([vm.claim?.rule, vm.claim?.low, vm.claim?.high, vm.claim?.verdict], ['DEN-VM', 25, 30, 'within']);
  assert.equal(vm.claim?.quote, '≈ 25-30 VMs max');
  assert.match(vm.arithmetic[0] ?? '', /\(128\.0GiB − 4\.00GiB reserved\) \/ \(4\.00GiB \+ 124\.9MiB VMM\) = 30\.08 → 30/);

  // Containers with 512MB each: (128 GiB - 4 GiB) / (512 MiB + 50 MB) = 226.9 -> 226; claimed: 100-200.
  const expectedContainers = Math.floor((124 * GiB) / Math.ceil(512 * MiB + 50 * MB));
  assert.equal(expectedContainers, 226);
  assert.equal(container.count, expectedContainers);
  assert.equal(container.claim?.verdict, 'above', 'memory alone allows more than the comparison says; CPU is what limits it');
  assert.match(container.arithmetic[0] ?? '', /\(128\.0GiB − 4\.00GiB reserved\) \/ \(512\.0MiB \+ 47\.7MiB container overhead\) = 226\.\d\d → 226/);
  // The claimed 100-200 is where CPU binds at 0.16-0.32 cores per container: the row says from which size on.
  assert.ok(Math.abs((container.cpuBindsAboveCores ?? 0) - (32 - reservedCores(32)) / 226) < 1e-9);
});

test('with the default (GKE) reserve the density example gives 28 VMs, inside 25-30', () => {
  const a = defaultAssumptions();
  const cap = capacityOf(parseHostFlag('128G/32'), a);
  assert.ok(Math.abs(cap.reservedBytes - (9.32 * GiB + 100 * MiB)) < 1);
  const [vm, container] = comparisonExample(cap, a);
  assert.equal(vm?.count, 28);
  assert.equal(vm?.claim?.verdict, 'within');
  assert.equal(container?.count, 216);
});

test('the GKE reservation formula, tier by tier', () => {
  assert.equal(reservedMemory(4 * GiB), GiB + 100 * MiB);
  assert.ok(Math.abs(reservedMemory(16 * GiB) - (GiB + 0.8 * GiB + 0.8 * GiB + 100 * MiB)) < 1);
  assert.ok(Math.abs(reservedMemory(256 * GiB) - (9.32 * GiB + 0.02 * 128 * GiB + 100 * MiB)) < 1);
  assert.ok(Math.abs(reservedCores(32) - (0.06 + 0.01 + 0.01 + 28 * 0.0025)) < 1e-12);
});

test('CPU binds when each instance asks for more CPU than memory allows for', () => {
  const a = defaultAssumptions();
  const cap = capacityOf(parseHostFlag('128G/32'), a, 4 * GiB);
  const row = densityOf('container', 512 * MiB, 0.5, cap, a);
  assert.equal(row.binds, 'cpu');
  assert.equal(row.byCpu, Math.floor(cap.millicores / Math.ceil(0.5 * 1.01 * 1000)));
  assert.equal(row.count, row.byCpu);
  assert.match(row.arithmetic[1] ?? '', /^cpu: \(32 − 0\.15 reserved cores\) \/ \(0\.5 × 1\.01\)/);
});

test('overcommit and OpenShift-style VMM overheads change density as documented', () => {
  const openshift = override(defaultAssumptions(), { 'vm.memoryFactor': 1.002, 'vm.vmmMiB': 218, 'vm.vmmMiBPerVcpu': 8 }, 'flag', 'test');
  const cap = capacityOf(parseHostFlag('128G/32'), openshift, 4 * GiB);
  const row = densityOf('vm', 4 * GiB, 2, cap, openshift, true);
  assert.equal(row.demand.memoryBytes, Math.ceil(4 * GiB * 1.002 + 218 * MiB + 16 * MiB));
  const doubled = override(defaultAssumptions(), { 'overcommit.memory': 2 }, 'flag', 'test');
  const cap2 = capacityOf(parseHostFlag('128G/32'), doubled, 4 * GiB);
  assert.equal(cap2.memoryBytes, 248 * GiB);
});
