import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Aborted, alternate } from '../../../src/bench/alternate.js';

test('arms alternate A B A B, warm-up runs are not counted', async () => {
  const order: string[] = [];
  const arm = (name: string) => ({ name, run: async (round: number) => (order.push(`${name}${round}`), round) });
  const res = await alternate([arm('A'), arm('B')], { warmup: 1, runs: 2 });
  assert.deepEqual(order, ['A-1', 'B-1', 'A0', 'B0', 'A1', 'B1']);
  assert.deepEqual(res.get('A'), [0, 1]);
  assert.deepEqual(res.get('B'), [0, 1]);
});

test('an aborted signal stops before the next run', async () => {
  const ac = new AbortController();
  let runs = 0;
  await assert.rejects(
    alternate([{ name: 'A', run: async () => { if (++runs === 2) ac.abort(); return 1; } }], { warmup: 0, runs: 5, signal: ac.signal }),
    Aborted,
  );
  assert.equal(runs, 2);
});
