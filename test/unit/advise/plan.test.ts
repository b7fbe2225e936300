import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadInventory, parseInventory } from '../../../src/advise/load-inventory.js';
import { parseMeasured } from '../../../src/advise/measured.js';
import { plan, type PlanReport } from '../../../src/advise/plan.js';
import { renderPlanText } from '../../../src/advise/render-plan.js';
import { parseHostFlag } from '../../../src/advise/host.js';
import { isIsolaError } from '../../../src/core/errors.js';
import { compareFixture, ROOT } from './fixtures.js';

const example = () => loadInventory(join(ROOT, 'examples', 'workloads.yaml'));
const placement = (r: PlanReport, strategy: string) => {
  const p = r.placements.find((x) => x.strategy === strategy);
  assert.ok(p, strategy);
  return p;
};

test('the worked example: three strategies, each at or above its lower bound, Windows licensed in all', async () => {
  const r = plan({ inventory: await example(), flagAssumptions: {} });
  assert.deepEqual(r.placements.map((p) => p.strategy), ['all-vm', 'all-container', 'advised']);
  for (const p of r.placements) {
    assert.ok(p.hosts !== null && p.lowerBound !== null && p.hosts >= p.lowerBound);
    const licences = p.cost?.lines.find((l) => l.item === 'licences');
    assert.equal(licences?.arithmetic.startsWith('2 Windows VMs'), true, 'erp has 2 replicas and is a VM everywhere');
  }
  const allVm = placement(r, 'all-vm');
  assert.equal(allVm.instances.vm, 30);
  const allContainer = placement(r, 'all-container');
  assert.equal(allContainer.keptAsVm, 2, 'the Windows ERP is NO_FIT for containers and stays a VM');
  const advised = placement(r, 'advised');
  assert.deepEqual(advised.instances, { container: 17, vm: 2, hybrid: 11 });
  assert.equal(r.hostTypes[0]?.price, 14000, "the host's own cost wins over the placeholder");
  assert.deepEqual(r.workloads.replicasNotGiven, ['reporting']);
});

test('cost lines are the printed arithmetic', async () => {
  const r = plan({ inventory: await example(), flagAssumptions: { 'mgmt.hourlyRate': 50 } });
  const p = placement(r, 'all-vm');
  const [hw, lic, mgmt] = p.cost?.lines ?? [];
  assert.equal(hw?.perYear, ((p.hosts ?? 0) * 14000) / 5);
  assert.equal(lic?.perYear, (2 * 1069) / 2 / 5);
  assert.equal(mgmt?.perYear, (30 * 6 + (p.hosts ?? 0) * 8) * 50);
  assert.equal(p.cost?.totalPerYear, (hw?.perYear ?? 0) + (lic?.perYear ?? 0) + (mgmt?.perYear ?? 0));
  assert.ok(!placement(r, 'all-vm').cost?.lines.some((l) => l.arithmetic.includes('160 h orchestration')));
  assert.ok(placement(r, 'advised').cost?.lines.some((l) => l.arithmetic.includes('160 h orchestration')));
});

test('a workload larger than any host says which, where and by how much', () => {
  const inventory = parseInventory('workloads:\n  - name: small\n    memory: 1Gi\n    cpus: 1\n  - name: whale\n    memory: 200Gi\n    cpus: 4\n', 'big.yaml');
  assert.throws(() => plan({ inventory, host: parseHostFlag('128G/32'), flagAssumptions: {} }), (e) => {
    assert.ok(isIsolaError(e, 'INVALID_ARGUMENT'));
    assert.match(e.oneLine(), /^big\.yaml:5: workload "whale" is larger than any host: as container it needs 200\.0GiB and 4\.04 cores, 81\.\dGiB more memory than host 128G\/32 offers/);
    return true;
  });
});

test('no host at all is an error that says how to give one', () => {
  const inventory = parseInventory('workloads:\n  - memory: 1Gi\n    cpus: 1\n', 'w.yaml');
  assert.throws(() => plan({ inventory, flagAssumptions: {} }), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /--host/.test(e.oneLine()));
});

test('workloads without a size are named and not placed', () => {
  const inventory = parseInventory('workloads:\n  - name: sized\n    memory: 1Gi\n    cpus: 1\n  - name: vague\n    os: linux\n', 'w.yaml');
  const r = plan({ inventory, host: parseHostFlag('128G/32'), flagAssumptions: {} });
  assert.deepEqual(r.workloads.unsized, [{ name: 'vague', missing: ['memory', 'cpus'] }]);
  assert.equal(r.workloads.instances, 1);
  assert.match(renderPlanText(r), /not placed, size not given: vague \(no memory, cpus\)/);
});

test('a host type too small for one workload is reported, the others still plan', () => {
  const inventory = parseInventory(
    'workloads:\n  - name: big\n    memory: 60Gi\n    cpus: 2\nhosts:\n  - name: small\n    memory: 32G\n    cores: 8\n  - name: large\n    memory: 128G\n    cores: 32\n',
    'w.yaml',
  );
  const r = plan({ inventory, flagAssumptions: {} });
  const small = r.placements.filter((p) => p.hostType === 'small');
  assert.ok(small.every((p) => p.hosts === null && p.doesNotFit.length === 1));
  assert.ok(r.placements.filter((p) => p.hostType === 'large').every((p) => p.hosts === 1));
});

test('a host count smaller than needed is a shortfall', () => {
  const inventory = parseInventory('workloads:\n  - memory: 8Gi\n    cpus: 4\n    replicas: 40\nhosts:\n  - memory: 128G\n    cores: 32\n    count: 2\n', 'w.yaml');
  const p = placement(plan({ inventory, flagAssumptions: {} }), 'all-vm');
  assert.ok(p.hosts !== null && p.hosts > 2);
  assert.equal(p.shortfall, (p.hosts ?? 0) - 2);
});

test('--measured overheads replace the published defaults and say so', async () => {
  const measured = parseMeasured(JSON.stringify(compareFixture()), 'm.json');
  const r = plan({ inventory: await example(), flagAssumptions: {}, measured });
  const vmm = r.assumptions.find((a) => a.key === 'vm.vmmMiB');
  assert.equal(vmm?.value, 150);
  assert.equal(vmm?.origin, 'measured');
  assert.match(vmm?.source ?? '', /measured on this host: memory_overhead_bytes \(vm\) in m\.json, KVM/);
  assert.equal(r.assumptions.find((a) => a.key === 'vm.cpuFactor')?.value, 1.2);
  // A flag still wins over a measurement.
  const r2 = plan({ inventory: await example(), flagAssumptions: { 'vm.vmmMiB': 5 }, measured });
  assert.equal(r2.assumptions.find((a) => a.key === 'vm.vmmMiB')?.value, 5);
});

test('text output shows the density example with its claim, placement and the difference in cost', async () => {
  const text = renderPlanText(plan({ inventory: await example(), host: parseHostFlag('128G/32'), reservedBytes: 4 * 2 ** 30, flagAssumptions: {} }));
  assert.match(text, /vm 4\.00GiB: 30 per host, memory binds/);
  assert.match(text, /^density, the common comparison's example \("On a server with 128GB RAM and 32 CPU cores"\):$/m);
  assert.match(text, /^ {6}claimed \(DEN-VM, 128GB \/ 32 cores\): "≈ 25-30 VMs max": 30 is within 25-30$/m);
  assert.match(text, /^ {6}claimed \(DEN-C, 128GB \/ 32 cores\): "≈ 100-200 containers": 226 is above 100-200$/m);
  assert.match(text, /cpu: not given by the comparison's example; CPU would bind first above/);
  assert.match(text, /container\.memoryMiB = [\d.]+ MiB {2}\[comparison\] the common VM-vs-container comparison, performance table: "Memory Overhead \.\.\. 5-50MB per container"/);
  assert.match(text, /advised vs all-vm: (saves|costs) [\d,]+ per year/);
  assert.match(text, /vm\.vmmMiB = 124\.9313 MiB {2}\[published\] Agache et al\., Firecracker, NSDI 2020/);
});
