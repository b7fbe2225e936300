import fs from 'node:fs';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { InstanceRecord } from '../../state/instances.js';
import { alternate } from '../alternate.js';
import type { Target } from '../lab.js';
import { HELPER_PATH, parseIo, parseIoAll } from '../probe-binary.js';
import { median, pairRatios, summarize } from '../stats.js';
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
  /** How many reads of the whole file a target's sequential-read call makes; the round's figure is their median. */
  seqRepeat: (t: Target) => number;
}

/** The figure of one sequential-read call: the median throughput (MiB/s) of its reads. */
export function seqFigure(reads: readonly { bytes: number; ns: number }[]): number {
  return median(reads.map((r) => r.bytes / (r.ns / 1e9) / (1024 * 1024)));
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
        const repeat = s.seqRepeat(t);
        dropped = dropHostCaches() && dropped;
        const q1 = await ctx.lab.run(t, rec, [s.helper, 'seqread', s.file, String(repeat)]);
        dropped = dropHostCaches() && dropped;
        const q2 = await ctx.lab.run(t, rec, [s.helper, 'randread', s.file, String(s.randCount), String(round + 100)]);
        const sf = q1.code === 0 ? parseIoAll(q1.stdout) : null;
        const qf = q2.code === 0 ? parseIo(q2.stdout) : null;
        if (!sf || sf.length !== repeat || !qf) throw new Error(`I/O run failed in ${t}: ${(q1.stderr + q2.stderr).trim().slice(0, 200) || `exit ${q1.code}, ${q2.code}`}`);
        direct[t] = (direct[t] ?? true) && sf.every((x) => x.direct) && qf.direct;
        return { seq: seqFigure(sf), rand: qf.bytes / 4096 / (qf.ns / 1e9) };
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
 * Reads per sequential-read call (disk and shared-folder rows): natively and in a container,
 * whose O_DIRECT reads reach the disk with nothing caching them, the file is read SEQ_REPEAT
 * times and the round's figure is their median: single O_DIRECT reads of one file on this
 * host's virtual disk ranged 600-1900 MiB/s from one read to the next, and one fast native read
 * made every kind's ratio of that round about 0.55. A VM and a hybrid read once: behind their
 * O_DIRECT, QEMU's drive (and virtiofsd, for a shared folder) reads through the host page cache,
 * which would serve a second read from memory.
 */
export const SEQ_REPEAT = 3;
export function seqRepeat(t: Target): number {
  return t === 'native' || t === 'container' ? SEQ_REPEAT : 1;
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
  const r = await readRounds(ctx, { targets, instance: (t, round) => (t === 'native' ? undefined : probeFor(ctx.probes.get(t), round)), helper: HELPER_PATH, file: FILE, randCount, label: 'disk I/O', seqRepeat }, direct);
  for (const t of targets) for (const rec of places(t)) await ctx.lab.run(t, rec, ['rm', '-f', FILE]).catch(() => undefined);
  const { seq, rand, raw } = ratios(r);
  const vmNote = 'a VM\'s O_DIRECT bypasses the guest page cache only; QEMU\'s drive uses its default cache mode (writeback, through the host page cache), which the host drop before each run empties';
  const extra = { fileMiB: mib, randomReads: randCount, direct: r.direct, raw };
  const sample = 'one round: a read in one probe instance (rounds rotate over the instances) against the native read of the same round';
  return [
    { id: 'io_seq_ratio', unit: 'ratio', kinds: seq, sample, notes: [`sequential read of ${mib} MiB in 1 MiB blocks; sample = throughput in the kind / native throughput of the same round; natively and in a container a round's throughput is the median of ${SEQ_REPEAT} reads (single O_DIRECT reads of the device vary by a factor of 2-3 here), in a VM one read (QEMU's drive would serve a repeat from the host page cache)`, cacheNote(r), vmNote], extra: { ...extra, seqReadsPerRound: Object.fromEntries(targets.map((t) => [t, seqRepeat(t)])) } },
    { id: 'io_rand_ratio', unit: 'ratio', kinds: rand, sample, notes: [`${randCount} random 4 KiB reads, one in flight; sample = IOPS in the kind / native IOPS of the same round`, cacheNote(r), vmNote] },
  ];
}
