import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run, type RunResult } from '../../util/exec.js';
import { alternate } from '../alternate.js';
import type { BenchRow } from '../bench-rows.js';
import { startRegistry, type TestRegistry } from '../peers/registry.js';
import { median, pairRatios, summarize } from '../stats.js';

/**
 * Images in and out, against the tools people use for the same job, in one run, alternated:
 * - `isola push` / `isola pull` of a ~100 MiB image to and from a local docker-registry, next
 *   to `skopeo copy` of the very same image (isola's store is an OCI layout skopeo reads), each
 *   round against an empty registry and into an empty store;
 * - `isola build` of one Dockerfile next to `buildah bud --isolation chroot --layers` of the same
 *   Dockerfile on the same base image: cold, and again with nothing changed.
 * Every command's exit status is checked: a failed run is not a fast one.
 */
export interface ImagesBenchOptions {
  /** Runs the isola CLI with this data root (and environment additions). */
  isola: (args: string[], root: string, env?: Record<string, string>) => Promise<RunResult>;
  runs: number;
  log: (s: string) => void;
}

function must(what: string, r: RunResult): number {
  if (r.code !== 0 || r.timedOut) throw new Error(`${what} failed (${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ')}`);
  return r.ms;
}

const fmt = (xs: number[]) => `median ${Math.round(median(xs))} ms, p10-p90 ${Math.round(summarize(xs).p10)}-${Math.round(summarize(xs).p90)} ms, n=${xs.length}`;

export async function benchImages(o: ImagesBenchOptions): Promise<BenchRow[]> {
  // Lower case only: buildah names an image pulled from an oci: layout after the layout's path.
  const w = path.join(os.tmpdir(), `isola-bench-images-${process.pid}-${Date.now().toString(36)}`);
  fs.mkdirSync(w, { mode: 0o700 });
  const rows: BenchRow[] = [];
  let registry: TestRegistry | null = null;
  try {
    // ---- push and pull of a ~100 MiB image ----------------------------------------------
    const src = path.join(w, 'src');
    const tree = path.join(w, 'tree');
    fs.mkdirSync(path.join(tree, 'bin'), { recursive: true });
    fs.copyFileSync('/bin/busybox', path.join(tree, 'bin', 'busybox'));
    fs.symlinkSync('busybox', path.join(tree, 'bin', 'sh'));
    // Random bytes: gzip cannot shrink them, so every arm moves the full 100 MiB.
    must('make the test image', await run('sh', ['-c', `for i in 1 2 3 4; do head -c 26214400 /dev/urandom > ${tree}/random-$i.bin; done; tar -C ${tree} -cf ${w}/rootfs.tar .`]));
    must('isola import', await o.isola(['import', path.join(w, 'rootfs.tar'), 'big:1'], src));
    const fresh = async (): Promise<string> => {
      await registry?.stop();
      registry = await startRegistry();
      return registry.host;
    };
    let round = 0;
    o.log(`push/pull of a 100 MiB image: ${o.runs} alternated rounds, each against an empty registry`);
    const arms = await alternate([
      {
        name: 'isola-push', run: async () => {
          const host = await fresh();
          must('isola tag', await o.isola(['tag', 'big:1', `${host}/m/big:1`], src));
          return must('isola push', await o.isola(['push', '-q', `${host}/m/big:1`], src));
        },
      },
      {
        name: 'isola-pull', run: async () => {
          const host = registry?.host ?? '';
          const dst = path.join(w, `dst-${round++}`);
          const ms = must('isola pull', await o.isola(['pull', '-q', `${host}/m/big:1`], dst));
          fs.rmSync(dst, { recursive: true, force: true });
          must('isola rmi', await o.isola(['rmi', `${host}/m/big:1`], src));
          return ms;
        },
      },
      {
        name: 'skopeo-push', run: async () => {
          const host = await fresh();
          return must('skopeo copy (push)', await run('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${path.join(src, 'images')}:big:1`, `docker://${host}/m/big:1`]));
        },
      },
      {
        name: 'skopeo-pull', run: async () => {
          const host = registry?.host ?? '';
          const dst = path.join(w, `oci-${round++}`);
          const ms = must('skopeo copy (pull)', await run('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${host}/m/big:1`, `oci:${dst}:big:1`]));
          fs.rmSync(dst, { recursive: true, force: true });
          return ms;
        },
      },
    ], { warmup: 1, runs: o.runs, onRound: (d, t) => o.log(`push/pull round ${d}/${t}`) });
    for (const verb of ['push', 'pull'] as const) {
      const mine = arms.get(`isola-${verb}`) ?? [];
      const peer = arms.get(`skopeo-${verb}`) ?? [];
      const r = median(pairRatios(mine, peer));
      rows.push({ name: `\`isola ${verb}\` of a 100 MiB image (local docker-registry)`, value: Math.round(median(mine)), unit: 'ms', target: '-', ok: null, note: fmt(mine) });
      rows.push({ name: `\`skopeo copy\` of the same image, ${verb === 'push' ? 'store to registry' : 'registry to an OCI layout'} (peer)`, value: Math.round(median(peer)), unit: 'ms', target: '-', ok: null, note: fmt(peer) });
      rows.push({ name: `isola ${verb} / skopeo copy, pair by pair`, value: Number(r.toFixed(2)), unit: 'x', target: '<= 1.2', ratio: `isola/skopeo ${r.toFixed(2)}`, ok: r <= 1.2, note: 'both run as a new process per transfer; isola\'s Node.js start is part of its time' });
    }

    // ---- build of one Dockerfile -----------------------------------------------------------
    rows.push(...await benchBuild(o, w));
  } finally {
    await (registry as TestRegistry | null)?.stop();
    fs.rmSync(w, { recursive: true, force: true });
  }
  return rows;
}

const DOCKERFILE = `ARG BASE=base
FROM \${BASE}
ENV APP=/app
WORKDIR /app
RUN echo one > /one.txt
COPY src/ /app/src/
RUN find /app/src -type f | wc -l > /app/count.txt
RUN echo 'svc:x:1000:1000::/app:/bin/sh' >> /etc/passwd
COPY main.txt /app/
CMD ["cat", "/app/count.txt"]
`;

async function benchBuild(o: ImagesBenchOptions, w: string): Promise<BenchRow[]> {
  const ctx = path.join(w, 'ctx');
  fs.mkdirSync(path.join(ctx, 'src'), { recursive: true });
  for (let i = 1; i <= 200; i++) fs.writeFileSync(path.join(ctx, 'src', `f${i}.txt`), `file ${i}\n`);
  fs.writeFileSync(path.join(ctx, 'main.txt'), 'v1\n');
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  // buildah with its own storage and chroot isolation only: no network set-up of its own,
  // which would change the host's firewall and ip_forward.
  const bh = (root: string, args: string[]) => run('buildah', ['--root', path.join(root, 'R'), '--runroot', path.join(root, 'RR'), '--storage-driver', 'vfs', ...args]);
  let n = 0;
  const roots: string[] = [];
  const arms = await alternate([
    {
      name: 'isola', run: async () => {
        const root = path.join(w, `isola-${n}`);
        roots.push(root);
        must('isola images', await o.isola(['images'], root)); // builds base: not timed
        const cold = must('isola build (cold)', await o.isola(['build', '-q', '-t', 'bench:1', ctx], root));
        const again = must('isola build (no change)', await o.isola(['build', '-q', '-t', 'bench:1', ctx], root));
        return { cold, again };
      },
    },
    {
      name: 'buildah', run: async () => {
        const root = path.join(w, `buildah-${n++}`);
        roots.push(root);
        const isolaRoot = roots[roots.length - 2] ?? '';
        must('buildah pull', await bh(root, ['pull', '-q', `oci:${path.join(isolaRoot, 'images')}:base:latest`]));
        const id = (await bh(root, ['images', '-q'])).stdout.trim().split('\n')[0] ?? '';
        must('buildah tag', await bh(root, ['tag', id, 'localhost/base:latest']));
        const bud = ['bud', '--isolation', 'chroot', '--layers', '--pull-never', '--build-arg', 'BASE=localhost/base:latest', '-t', 'localhost/bench:1', ctx];
        const cold = must('buildah bud (cold)', await bh(root, bud));
        const again = must('buildah bud (no change)', await bh(root, bud));
        await bh(root, ['rm', '-a']);
        await bh(root, ['rmi', '-a', '-f']);
        for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
        return { cold, again };
      },
    },
  ], { warmup: 0, runs: Math.max(3, Math.min(o.runs, 5)), onRound: (d, t) => o.log(`build round ${d}/${t}`) });
  const rows: BenchRow[] = [];
  for (const phase of ['cold', 'again'] as const) {
    const mine = (arms.get('isola') ?? []).map((x) => x[phase]);
    const peer = (arms.get('buildah') ?? []).map((x) => x[phase]);
    const r = median(pairRatios(mine, peer));
    const what = phase === 'cold' ? 'cold (empty cache; 9 steps, 3 RUN, 200 files copied)' : 'again, nothing changed (every step cached)';
    rows.push({ name: `\`isola build\`, ${what}`, value: Math.round(median(mine)), unit: 'ms', target: phase === 'again' ? '< 1000 ms' : '-', ratio: `isola/buildah ${r.toFixed(2)}`, ok: phase === 'again' ? median(mine) < 1000 : null, note: fmt(mine) });
    rows.push({ name: `\`buildah bud --isolation chroot --layers\` (vfs), ${phase === 'cold' ? 'cold' : 'nothing changed'} (peer)`, value: Math.round(median(peer)), unit: 'ms', target: '-', ok: null, note: fmt(peer) });
  }
  return rows;
}
