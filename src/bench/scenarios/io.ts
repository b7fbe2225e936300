import fs from 'node:fs';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import { alternate } from '../alternate.js';
import type { Target } from '../lab.js';
import { HELPER_PATH, parseIo } from '../probe-binary.js';
import { pairRatios, summarize } from '../stats.js';
import { probeFor, type Metric, type ScenarioContext } from '../scenario.js';

const FILE = '/tmp/.isola-io.dat';

/** Drops the host's clean page cache so that no target reads from memory the host kept. */
export function dropHostCaches(): boolean {
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '1');
    return true;
  } catch {
    return false;
  }
}

/** What one read measurement needs: where each target runs the helper and reads the file. */
export interface ReadSetup {
  targets: Target[];
  /** The instance a target runs in at a round (none for native; warm-up rounds are negative). */
  instance: (t: Target, round: number) => InstanceRecord | undefined;
  helper: string;
  file: string;
  randCount: number;
  label: string;
}

export interface ReadResult {
  res: Map<string, { seq: number; rand: number }[]>;
  direct: Record<string, boolean>;
  dropped: boolean;
}

/**
 * Sequential (1 MiB blocks) and random (4 KiB, one in flight) reads of one file in every target,
 * alternating targets round by round, the host's page cache dropped before every read.
 */
export async function readRounds(ctx: ScenarioContext, s: ReadSetup, direct: Record<string, boolean>): Promise<ReadResult> {
  let dropped = true;
  const res = await alternate(
    s.targets.map((t) => ({
      name: t,
      run: async (round: number) => {
        ctx.progress.step(`${s.label}: ${t} run ${round < 0 ? 'warm-up' : `${round + 1}/${ctx.runs}`}`);
        const rec = s.instance(t, round);
        dropped = dropHostCaches() && dropped;
        const q1 = await ctx.lab.run(t, rec, [s.helper, 'seqread', s.file]);
        dropped = dropHostCaches() && dropped;
        const q2 = await ctx.lab.run(t, rec, [s.helper, 'randread', s.file, String(s.randCount), String(round + 100)]);
        const sf = parseIo(q1.stdout);
        const qf = parseIo(q2.stdout);
        if (!sf || !qf) throw new Error(`I/O run failed in ${t}: ${(q1.stderr + q2.stderr).trim().slice(0, 200)}`);
        direct[t] = (direct[t] ?? true) && sf.direct && qf.direct;
        return { seq: sf.bytes / (sf.ns / 1e9) / (1024 * 1024), rand: qf.bytes / 4096 / (qf.ns / 1e9) };
      },
    })),
    { warmup: ctx.warmup, runs: ctx.runs, signal: ctx.lab.signal },
  );
  return { res, direct, dropped };
}

/** Per kind: the paired ratios to native of the same round, summarized; and the raw figures. */
export function ratios(r: ReadResult): { seq: Metric['kinds']; rand: Metric['kinds']; raw: Record<string, { seqMiBps: number[]; randIops: number[] }> } {
  const native = r.res.get('native') ?? [];
  const seq: Metric['kinds'] = {};
  const rand: Metric['kinds'] = {};
  const raw: Record<string, { seqMiBps: number[]; randIops: number[] }> = {};
  for (const [t, xs] of r.res) {
    raw[t] = { seqMiBps: xs.map((x) => x.seq), randIops: xs.map((x) => x.rand) };
    if (t === 'native') continue;
    seq[t as MeasuredKind] = summarize(pairRatios(xs.map((x) => x.seq), native.map((x) => x.seq)));
    rand[t as MeasuredKind] = summarize(pairRatios(xs.map((x) => x.rand), native.map((x) => x.rand)));
  }
  return { seq, rand, raw };
}

export function cacheNote(r: ReadResult): string {
  return `cache control: ${Object.entries(r.direct).map(([t, d]) => `${t} ${d ? 'O_DIRECT' : 'buffered (O_DIRECT refused; POSIX_FADV_DONTNEED instead)'}`).join(', ')}; host page cache ${r.dropped ? 'dropped before every run' : 'NOT dropped (no permission)'}`;
}

/**
 * Disk I/O: isola-bench reads a file with O_DIRECT, sequentially in 1 MiB blocks and at random
 * 4 KiB offsets (one request in flight), natively on the data root's file system and inside
 * every kind (the container's file is on its overlay upper dir on that same file system; the
 * VM's on its ext4 root inside the qcow2 overlay there). The host's page cache is dropped
 * before every run; the helper reports whether O_DIRECT was accepted.
 */
export async function io(ctx: ScenarioContext): Promise<Metric[]> {
  const mib = ctx.quick ? 16 : 64;
  const randCount = ctx.quick ? 500 : 2000;
  const targets: Target[] = ['native', ...ctx.kinds.filter((k) => ctx.probes.get(k)?.length)];
  const direct: Record<string, boolean> = {};
  // Every probe instance gets its own file: the rounds rotate over the instances.
  const places = (t: Target): (InstanceRecord | undefined)[] => (t === 'native' ? [undefined] : (ctx.probes.get(t) ?? []));
  for (const t of targets) {
    for (const [i, rec] of places(t).entries()) {
      ctx.progress.step(`disk I/O: writing a ${mib} MiB test file in ${t}${rec ? ` instance ${i + 1}` : ''}`);
      const r = await ctx.lab.run(t, rec, [HELPER_PATH, 'write', FILE, String(mib)]);
      const f = parseIo(r.stdout);
      if (r.code !== 0 || !f) throw new Error(`cannot write the I/O test file in ${t}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`);
      direct[t] = (direct[t] ?? true) && f.direct;
    }
  }
  const r = await readRounds(ctx, { targets, instance: (t, round) => (t === 'native' ? undefined : probeFor(ctx.probes.get(t), round)), helper: HELPER_PATH, file: FILE, randCount, label: 'disk I/O' }, direct);
  for (const t of targets) for (const rec of places(t)) await ctx.lab.run(t, rec, ['rm', '-f', FILE]).catch(() => undefined);
  const { seq, rand, raw } = ratios(r);
  const vmNote = 'a VM\'s O_DIRECT bypasses the guest page cache only; QEMU\'s drive uses its default cache mode (writeback, through the host page cache), which the host drop before each run empties';
  const extra = { fileMiB: mib, randomReads: randCount, direct: r.direct, raw };
  const sample = 'one round: a read in one probe instance (rounds rotate over the instances) against the native read of the same round';
  return [
    { id: 'io_seq_ratio', unit: 'ratio', kinds: seq, sample, notes: [`sequential read of ${mib} MiB in 1 MiB blocks; sample = throughput in the kind / native throughput of the same round`, cacheNote(r), vmNote], extra },
    { id: 'io_rand_ratio', unit: 'ratio', kinds: rand, sample, notes: [`${randCount} random 4 KiB reads, one in flight; sample = IOPS in the kind / native IOPS of the same round`, cacheNote(r), vmNote] },
  ];
}
