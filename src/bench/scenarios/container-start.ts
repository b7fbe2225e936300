import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, withRoot } from '../../core/config.js';
import { Engine } from '../../engine/engine.js';
import { unpackImage } from '../../image/unpack.js';
import { run, type RunResult } from '../../util/exec.js';
import { alternate } from '../alternate.js';
import { checkedMs, renderRows, type BenchRow } from '../bench-rows.js';
import { median, pairRatios, summarize } from '../stats.js';
import { startDockerd, type PeerDockerd } from '../peers/dockerd.js';

/**
 * The container start path against its peers, every arm alternated in one run and every exit
 * status checked (a failed run is an error, never a fast sample):
 *  - `isola run --rm base true` with `--network none` and with the default bridge;
 *  - `podman --runtime runc run --rm` of the same rootfs, imported, with either network;
 *  - `runc run` of a bundle of that rootfs (the floor);
 *  - `docker run --rm --network none` on a private dockerd (its bridge is off: it would change
 *    the host's firewall), skipped with its reason when dockerd cannot start;
 *  - `isola --version` against `node -e 0`.
 * Runnable alone: `node dist/src/bench/scenarios/container-start.js [rounds]` (under
 * flock /tmp/isola-integration.lock, as it starts containers on the shared bridge).
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const BIN = path.join(REPO, 'bin', 'isola.js');
/** The base image's rootfs, imported into podman's and the private dockerd's storage; removed at the end. */
const PEER_IMAGE = 'localhost/isola-bench-peer:1';
/** Podman's defaults fail on this host (crun, RLIMIT_NPROC and RLIMIT_NOFILE above the hard limits). */
const PODMAN = ['--runtime', 'runc', 'run', '--rm', '--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=4096:4096'];

export interface ContainerStartResult {
  rows: BenchRow[];
  /** Every arm's samples, ms, in round order (pairable by index). */
  raw: Record<string, number[]>;
  /** Arms not measured, with why. */
  skipped: Record<string, string>;
}

export interface ContainerStartOptions {
  runs: number;
  warmup?: number;
  log?: (s: string) => void;
}

const failed = (e: Error): RunResult => ({ code: 127, stdout: '', stderr: e.message, ms: 0, timedOut: false });
const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

/** One row per target: the measured figure, the peer's figure from the same run, met or not. */
export function containerStartRows(raw: Record<string, number[]>, skipped: Record<string, string>): BenchRow[] {
  const rows: BenchRow[] = [];
  const med = (k: string) => Math.round(median(raw[k] ?? []));
  const spread = (k: string) => {
    const s = summarize(raw[k] ?? []);
    return `n=${(raw[k] ?? []).length}, p10-p90 ${s.p10.toFixed(0)}-${s.p90.toFixed(0)} ms`;
  };
  const has = (k: string) => (raw[k] ?? []).length > 0;
  for (const net of ['none', 'bridge'] as const) {
    const isola = `isola-${net}`;
    const podman = `podman-${net}`;
    rows.push({ name: `\`isola run --rm${net === 'none' ? ' --network none' : ''} base true\``, value: med(isola), unit: 'ms', target: '-', ok: null, note: spread(isola) });
    if (has(podman)) {
      const r = median(pairRatios(raw[isola] ?? [], raw[podman] ?? []));
      rows.push({ name: `  vs \`podman run --rm --network ${net}\` of the same rootfs`, value: med(podman), unit: 'ms', target: 'isola <= podman', ratio: `isola/podman ${r.toFixed(2)}`, ok: r <= 1, note: spread(podman) });
    } else rows.push({ name: `  vs \`podman run --rm --network ${net}\` of the same rootfs`, value: null, unit: 'ms', target: 'isola <= podman', ok: null, note: skipped[podman] ?? 'not measured' });
    const added = median((raw[isola] ?? []).map((v, i) => v - (raw.runc?.[i] ?? NaN)));
    rows.push({ name: `  isola (${net}) minus \`runc run\`, pair by pair`, value: Math.round(added), unit: 'ms', target: '<= 60 ms', ratio: `isola/runc ${median(pairRatios(raw[isola] ?? [], raw.runc ?? [])).toFixed(2)}`, ok: added <= 60 });
  }
  rows.push({ name: '`runc run` of a bundle of the same rootfs (floor)', value: med('runc'), unit: 'ms', target: '-', ok: null, note: spread('runc') });
  if (has('docker-none')) rows.push({ name: '`docker run --rm --network none` (private dockerd; reported beside)', value: med('docker-none'), unit: 'ms', target: '-', ratio: `isola/docker ${median(pairRatios(raw['isola-none'] ?? [], raw['docker-none'] ?? [])).toFixed(2)}`, ok: null, note: spread('docker-none') });
  else rows.push({ name: '`docker run --rm --network none` (private dockerd; reported beside)', value: null, unit: 'ms', target: '-', ok: null, note: skipped['docker-none'] ?? 'not measured' });
  // Reported beside, where the host's environment sets NODE_EXTRA_CA_CERTS (see the arms).
  if (has('isola-none-noca') && has('node-noca')) {
    rows.push({ name: '`isola run --rm --network none`, NODE_EXTRA_CA_CERTS unset (reported beside)', value: med('isola-none-noca'), unit: 'ms', target: '-', ratio: has('podman-none') ? `isola/podman ${median(pairRatios(raw['isola-none-noca'] ?? [], raw['podman-none'] ?? [])).toFixed(2)}` : '', ok: null, note: spread('isola-none-noca') });
    const startCost = median((raw.node ?? []).map((v, i) => v - (raw['node-noca']?.[i] ?? NaN)));
    rows.push({ name: '`node -e 0` with the host\'s NODE_EXTRA_CA_CERTS minus without, pair by pair', value: Math.round(startCost), unit: 'ms', target: '-', ratio: `node ${med('node')} ms, unset ${med('node-noca')} ms`, ok: null });
  }
  const versionAdded = median((raw.version ?? []).map((v, i) => v - (raw.node?.[i] ?? NaN)));
  rows.push({ name: '`isola --version` minus `node -e 0`, pair by pair', value: Math.round(versionAdded), unit: 'ms', target: '<= 20 ms', ratio: `isola ${med('version')} ms, node ${med('node')} ms`, ok: versionAdded <= 20 });
  return rows;
}

export async function benchContainerStart(opts: ContainerStartOptions): Promise<ContainerStartResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(`[container-start] ${s}\n`));
  const config = loadConfig();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-bench-start-'));
  const env = { ...config.env, ISOLA_ROOT: root };
  const sh = (cmd: string, args: string[]) => run(cmd, args, { env: config.env }).catch(failed);
  const isola = (args: string[]) => run(process.execPath, [BIN, ...args], { env }).catch(failed);
  const skipped: Record<string, string> = {};
  let dockerd: PeerDockerd | null = null;
  let podmanImported = false;
  try {
    log('preparing the base image, a runc bundle and the peers\' images');
    const first = await isola(['run', '--rm', 'base', 'true']);
    if (first.code !== 0) throw new Error(`isola run failed: ${lastLine(first.stderr)}`);
    const engine = new Engine(withRoot(config, root));
    const image = await engine.resolveImage('base');
    engine.close();
    const bundle = path.join(root, 'bench-bundle');
    const rootfs = path.join(bundle, 'rootfs');
    fs.mkdirSync(rootfs, { recursive: true });
    await unpackImage(image, rootfs);
    const spec = await sh('runc', ['spec', '--bundle', bundle]);
    if (spec.code !== 0) throw new Error(`runc spec failed: ${lastLine(spec.stderr)}`);
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process: { terminal: boolean; args: string[]; env: string[] }; root: { readonly: boolean } };
    cfg.process.terminal = false;
    cfg.process.args = ['true'];
    cfg.process.env = image.config.env.length ? image.config.env : cfg.process.env;
    cfg.root.readonly = false;
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(cfg));
    const runcRoot = path.join(root, 'runc-state');
    let n = 0;
    const tar = path.join(root, 'peer-rootfs.tar');
    const tarred = await sh('tar', ['-C', rootfs, '-cf', tar, '.']);
    if (tarred.code !== 0) throw new Error(`tar of the rootfs failed: ${lastLine(tarred.stderr)}`);

    const arms: { name: string; run: () => Promise<number> }[] = [
      { name: 'isola-none', run: async () => checkedMs('isola run --rm --network none', await isola(['run', '--rm', '--network', 'none', 'base', 'true'])) },
      { name: 'isola-bridge', run: async () => checkedMs('isola run --rm', await isola(['run', '--rm', 'base', 'true'])) },
      { name: 'runc', run: async () => checkedMs('runc run', await sh('runc', ['--root', runcRoot, 'run', '--bundle', bundle, `isola-bench-${process.pid}-${n++}`])) },
    ];
    // Podman 4.3 ignores --ulimit with --rootfs, so the rootfs is imported as a local image.
    const imported = await sh('podman', ['import', '-q', tar, PEER_IMAGE]);
    podmanImported = imported.code === 0;
    for (const net of ['none', 'bridge']) {
      const name = `podman-${net}`;
      const args = [...PODMAN, '--network', net, PEER_IMAGE, 'true'];
      const probe = podmanImported ? await sh('podman', args) : imported;
      if (probe.code === 0) arms.push({ name, run: async () => checkedMs(`podman run --rm --network ${net}`, await sh('podman', args)) });
      else skipped[name] = `podman failed here (exit ${probe.code}): ${lastLine(probe.stderr)}`;
    }
    try {
      dockerd = await startDockerd(config.env, { cgroupParent: '/isola-bench-start-dockerd' });
      const d = dockerd;
      const loaded = await d.docker(['import', tar, PEER_IMAGE]);
      const probe = loaded.code === 0 ? await d.docker(['run', '--rm', '--network', 'none', PEER_IMAGE, 'true']) : loaded;
      if (probe.code === 0) arms.push({ name: 'docker-none', run: async () => checkedMs('docker run --rm --network none', await d.docker(['run', '--rm', '--network', 'none', PEER_IMAGE, 'true'])) });
      else skipped['docker-none'] = `docker failed here (exit ${probe.code}): ${lastLine(probe.stderr)}`;
    } catch (e) {
      skipped['docker-none'] = `the private dockerd did not start: ${lastLine((e as Error).message)}`;
    }
    arms.push(
      { name: 'version', run: async () => checkedMs('isola --version', await isola(['--version'])) },
      { name: 'node', run: async () => checkedMs('node -e 0', await sh(process.execPath, ['-e', '0'])) },
    );
    // Node reads NODE_EXTRA_CA_CERTS before any script runs, parsing its own root certificates
    // and the file's, which takes a while: where the host sets it, the same two runs without it.
    if (config.env.NODE_EXTRA_CA_CERTS) {
      const noCa: Record<string, string | undefined> = { ...env, NODE_EXTRA_CA_CERTS: undefined };
      const noCaHost: Record<string, string | undefined> = { ...config.env, NODE_EXTRA_CA_CERTS: undefined };
      arms.push(
        { name: 'isola-none-noca', run: async () => checkedMs('isola run --rm --network none (NODE_EXTRA_CA_CERTS unset)', await run(process.execPath, [BIN, 'run', '--rm', '--network', 'none', 'base', 'true'], { env: noCa }).catch(failed)) },
        { name: 'node-noca', run: async () => checkedMs('node -e 0 (NODE_EXTRA_CA_CERTS unset)', await run(process.execPath, ['-e', '0'], { env: noCaHost }).catch(failed)) },
      );
    }
    for (const [k, why] of Object.entries(skipped)) log(`${k} skipped: ${why}`);
    log(`${opts.runs} rounds of ${arms.map((a) => a.name).join(' / ')}, alternated, after ${opts.warmup ?? 2} warm-up rounds`);
    const res = await alternate(arms.map((a) => ({ name: a.name, run: a.run })), { warmup: opts.warmup ?? 2, runs: opts.runs, onRound: (d, t) => log(`round ${d}/${t}`) });
    const raw = Object.fromEntries(res);
    return { rows: containerStartRows(raw, skipped), raw, skipped };
  } finally {
    const left = (await isola(['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean);
    if (left.length) await isola(['rm', '-f', ...left]);
    if (podmanImported) await sh('podman', ['rmi', '-f', PEER_IMAGE]);
    await dockerd?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await benchContainerStart({ runs: Number(process.argv[2] ?? 10) });
  process.stdout.write(`${renderRows(r.rows)}\n${JSON.stringify({ raw: r.raw, skipped: r.skipped })}\n`);
}
