import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dotProductPacking, firstFitDecreasing, lowerBound, MAX_SIZES_FOR_DOT_PRODUCT, packHosts, type Item, type Packing,
} from '../../../src/advise/bin-pack.js';
import { generateInventory, seededRandom } from '../../../src/advise/generate-inventory.js';
import { parseInventory } from '../../../src/advise/load-inventory.js';
import { plan } from '../../../src/advise/plan.js';

/** No host holds more than its capacity, and every item is on a host that exists. */
function assertValid(items: Item[], p: Packing, capM: number, capC: number) {
  const mem = new Float64Array(p.hosts);
  const cpu = new Float64Array(p.hosts);
  items.forEach((it, i) => {
    const h = p.hostOf[i] as number;
    assert.ok(h >= 0 && h < p.hosts, `item ${i} on host ${h} of ${p.hosts}`);
    mem[h] = (mem[h] as number) + it.memory;
    cpu[h] = (cpu[h] as number) + it.cpu;
  });
  for (let h = 0; h < p.hosts; h++) assert.ok((mem[h] as number) <= capM && (cpu[h] as number) <= capC, `host ${h} over capacity`);
  assert.ok(p.hosts >= lowerBound(items, capM, capC));
}

function randomItems(n: number, seed: number, distinct: boolean): Item[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => ({
    memory: distinct ? 1 + Math.floor(rnd() * 30_000) : 1000 * (1 + Math.floor(rnd() * 30)),
    cpu: distinct ? 1 + Math.floor(rnd() * 9_000) : 300 * (1 + Math.floor(rnd() * 30)),
  }));
}

test('both packings are valid: nothing over capacity, every item placed', () => {
  for (const seed of [1, 2, 3]) {
    const items = randomItems(3000, seed, false);
    assertValid(items, dotProductPacking(items, 100_000, 32_000), 100_000, 32_000);
    assertValid(items, firstFitDecreasing(items, 100_000, 32_000), 100_000, 32_000);
  }
});

test('the lower bound is total demand over capacity, per resource, the larger', () => {
  const items = [{ memory: 60, cpu: 10 }, { memory: 60, cpu: 10 }, { memory: 60, cpu: 10 }];
  assert.equal(lowerBound(items, 100, 100), 2);
  assert.equal(lowerBound(items, 1000, 20), 2);
  assert.equal(firstFitDecreasing(items, 100, 100).hosts, 3, 'two 60s never share a host of 100');
  assert.equal(dotProductPacking(items, 100, 100).hosts, 3);
  assert.equal(packHosts([], 100, 100).hosts, 0);
});

test('beyond the distinct-size limit, packing falls back to first-fit decreasing and stays valid', () => {
  const items = randomItems(MAX_SIZES_FOR_DOT_PRODUCT + 500, 7, true);
  const p = packHosts(items, 100_000, 32_000);
  assert.match(p.method, /first-fit decreasing/);
  assertValid(items, p, 100_000, 32_000);
});

test("plan's hosts are within 5 % of the lower bound on generated inventories, every strategy", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    for (const count of [1000, 2000, 5000]) {
      const inventory = parseInventory(JSON.stringify(generateInventory(count, seed)), `gen-${seed}-${count}.json`);
      const report = plan({ inventory, flagAssumptions: {} });
      for (const p of report.placements) {
        assert.ok(p.hosts !== null && p.lowerBound !== null);
        assert.ok(p.lowerBound >= 40, 'large enough that 5 % is more than rounding');
        assert.ok(p.hosts <= p.lowerBound * 1.05, `seed ${seed}, ${count} workloads, ${p.strategy}: ${p.hosts} hosts, lower bound ${p.lowerBound}`);
      }
    }
  }
});
