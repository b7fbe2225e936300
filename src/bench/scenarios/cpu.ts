import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import { alternate } from '../alternate.js';
import type { Target } from '../lab.js';
import { HELPER_PATH, parseTime } from '../probe-binary.js';
import { median, pairRatios, summarize } from '../stats.js';
import { probeFor, type Metric, type ScenarioContext } from '../scenario.js';

/**
 * CPU overhead: the image's own awk (the same static busybox binary natively, through chroot,
 * and in every kind) running a fixed arithmetic loop, timed inside the target by isola-bench
 * with CLOCK_MONOTONIC so that the cost of reaching the instance (runc exec, the VM agent) is
 * not counted. Native and kinds alternate; the ratio is taken pair by pair (run i in the kind
 * over run i natively).
 */
export const cpuLoop = (iterations: number): string[] => ['awk', `BEGIN { s = 0; for (i = 0; i < ${iterations}; i++) s = (s + i * i) % 1000003; print s }`];

export async function cpu(ctx: ScenarioContext): Promise<Metric> {
  const iterations = ctx.quick ? 100_000 : 250_000;
  const targets: Target[] = ['native', ...ctx.kinds.filter((k) => ctx.probes.get(k)?.length)];
  const argv = [HELPER_PATH, 'time', ...cpuLoop(iterations)];
  const res = await alternate(
    targets.map((t) => ({
      name: t,
      run: async (round: number) => {
        ctx.progress.step(`cpu: ${t} run ${round < 0 ? 'warm-up' : `${round + 1}/${ctx.runs}`}`);
        const rec: InstanceRecord | undefined = t === 'native' ? undefined : probeFor(ctx.probes.get(t), round);
        const r = await ctx.lab.run(t, rec, argv);
        const parsed = parseTime(r.stdout);
        if (r.code !== 0 || !parsed || parsed.status !== 0) throw new Error(`cpu loop failed in ${t}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`);
        return parsed.ns / 1e6;
      },
    })),
    { warmup: ctx.warmup, runs: ctx.runs, signal: ctx.lab.signal },
  );
  const native = res.get('native') ?? [];
  const kinds: Metric['kinds'] = {};
  const rawMs: Record<string, number[]> = {};
  for (const [t, xs] of res) {
    rawMs[t] = xs;
    if (t !== 'native') kinds[t as MeasuredKind] = summarize(pairRatios(xs, native));
  }
  return {
    id: 'cpu_overhead_ratio',
    unit: 'ratio',
    kinds,
    sample: 'one round: a run in one probe instance (rounds rotate over the instances) against the native run of the same round',
    notes: [
      `busybox awk loop of ${iterations} iterations, the image's binary everywhere (native: chroot into the unpacked image), timed inside the target with CLOCK_MONOTONIC`,
      'sample = time in the kind / native time of the same round (pair by pair); 1.00 = native speed',
      'VM: 1 vCPU, no pinning; container: no CPU limit',
    ],
    extra: { iterations, rawMs, nativeMedianMs: median(native) },
  };
}
