import { stringify } from 'yaml';
import { generateInventory } from '../../advise/generate-inventory.js';
import { parseInventory } from '../../advise/load-inventory.js';
import { plan } from '../../advise/plan.js';
import { renderPlanText } from '../../advise/render-plan.js';

/**
 * `isola plan` on 10,000 generated workloads, end to end except process start: parse the file,
 * validate it, advise every workload, compute density, pack three strategies, render the text.
 * The target is under 2 s on a 2-core machine. YAML and JSON are timed
 * separately because YAML parsing alone takes most of the time.
 */
const WORKLOADS = 10_000;
const RUNS = 5;
const TARGET_MS = 2000;

function medianMs(run: () => void): number {
  run(); // warm-up: JIT and the schema compilation are not what the target is about
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

export async function benchPlan(): Promise<{ name: string; value: number; unit: string; target: string; ok: boolean }[]> {
  const inventory = generateInventory(WORKLOADS, 42);
  const files = { yaml: stringify(inventory), json: JSON.stringify(inventory) };
  return (['yaml', 'json'] as const).map((format) => {
    const ms = medianMs(() => {
      const report = plan({ inventory: parseInventory(files[format], `bench.${format}`), flagAssumptions: {} });
      renderPlanText(report);
    });
    return {
      name: `plan ${WORKLOADS} workloads (${format}), median of ${RUNS}`,
      value: Math.round(ms),
      unit: 'ms',
      target: `< ${TARGET_MS} ms`,
      ok: ms < TARGET_MS,
    };
  });
}
