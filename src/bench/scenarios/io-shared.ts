import fs from 'node:fs';
import path from 'node:path';
import type { Kind } from '../../core/types.js';
import type { InstanceRecord } from '../../state/instances.js';
import type { Target } from '../lab.js';
import { parseIo } from '../probe-binary.js';
import type { Metric, ScenarioContext } from '../scenario.js';
import { cacheNote, ratios, readRounds, SEQ_REPEAT, seqRepeat } from './io.js';

/** Where the shared folder is, inside every instance and inside the native tree alike. */
export const SHARED_DIR = '/mnt/isola-shared';

/**
 * The shared folder's file and reads, the same in --quick as in the default run: the file is
 * written once, natively, so its size costs little, while with 16 MiB and 500 reads a native read
 * lasted 13-17 ms and its throughput (each round's denominator) ranged 924-1198 MiB/s.
 */
export const SHARED_READ = { mib: 64, randCount: 2000 } as const;

/**
 * I/O on a shared folder: one host folder, inside the image's tree that native runs chroot into,
 * mounted at the same path into one instance per kind (`-v HOST:PATH`: a bind mount for a
 * container, virtiofs for a VM and a hybrid). The same isola-bench, placed in the folder, reads
 * the same file there natively and in every kind, with the statistics of the disk I/O rows. This
 * is what the common comparison's "Disk I/O: 80-95% of native" is about for a VM that works on
 * host files.
 */
export async function ioShared(ctx: ScenarioContext): Promise<Metric[]> {
  const { mib, randCount } = SHARED_READ;
  if (!ctx.helper) throw new Error('no benchmark helper');
  const host = path.join(await ctx.lab.nativeTree(), SHARED_DIR);
  fs.mkdirSync(host, { recursive: true, mode: 0o755 });
  const helper = `${SHARED_DIR}/.isola-bench`;
  fs.copyFileSync(ctx.helper, path.join(host, '.isola-bench'));
  fs.chmodSync(path.join(host, '.isola-bench'), 0o755);
  const file = `${SHARED_DIR}/io.dat`;
  const instances = new Map<Kind, InstanceRecord>();
  try {
    ctx.progress.step(`shared-folder I/O: writing a ${mib} MiB test file in the host folder`);
    const w = await ctx.lab.run('native', undefined, [helper, 'write', file, String(mib)]);
    if (w.code !== 0 || !parseIo(w.stdout)) throw new Error(`cannot write the shared test file: ${(w.stderr || w.stdout).trim().slice(0, 200)}`);
    for (const k of ctx.kinds.filter((x) => ctx.probes.get(x)?.length)) {
      ctx.progress.step(`shared-folder I/O: starting a ${k} with the folder mounted`);
      instances.set(k, await ctx.lab.launch(k, ['sleep', '3600'], { tag: 'shared', mounts: [{ type: 'bind', source: host, target: SHARED_DIR, readOnly: true, createSource: false }] }));
    }
    const targets: Target[] = ['native', ...instances.keys()];
    const r = await readRounds(ctx, { targets, instance: (t) => (t === 'native' ? undefined : instances.get(t as Kind)), helper, file, randCount, label: 'shared-folder I/O', seqRepeat }, {});
    const { seq, rand, raw } = ratios(r);
    const how = 'the folder is a bind mount in a container and a virtiofs share (QEMU 7.2\'s virtiofsd, cache=auto) in a VM and a hybrid; read-only';
    const extra = { fileMiB: mib, randomReads: randCount, direct: r.direct, raw, seqReadsPerRound: Object.fromEntries(targets.map((t) => [t, seqRepeat(t)])) };
    const seqHow = `natively and in a container a round's throughput is the median of ${SEQ_REPEAT} reads (O_DIRECT reads of the disk vary by a factor of 2-3 here), in a VM and a hybrid one read (virtiofsd reads the host file through the host page cache, which would serve a repeat from memory)`;
    return [
      { id: 'io_shared_seq_ratio', unit: 'ratio', kinds: seq, sample: 'one round: a read in the one instance per kind with the folder mounted (rounds are not independent instances)', notes: [`sequential read of ${mib} MiB in 1 MiB blocks from a host folder mounted in the kind; sample = throughput in the kind / native throughput of the same round; ${seqHow}`, how, cacheNote(r)], extra },
      { id: 'io_shared_rand_ratio', unit: 'ratio', kinds: rand, sample: 'one round: a read in the one instance per kind with the folder mounted (rounds are not independent instances)', notes: [`${randCount} random 4 KiB reads, one in flight, from the same host folder; sample = IOPS in the kind / native IOPS of the same round`, how, cacheNote(r)] },
    ];
  } finally {
    for (const rec of instances.values()) await ctx.lab.remove(rec);
    fs.rmSync(host, { recursive: true, force: true });
  }
}
