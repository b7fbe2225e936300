import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Kind, ResolvedImage } from '../../core/types.js';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { Engine } from '../../engine/engine.js';
import { pushImage } from '../../image/registry/push.js';
import { pullImage } from '../../image/registry/pull.js';
import { HOST_PLATFORM } from '../../image/platform.js';
import { importVm } from '../../export/import-vm.js';
import { which } from '../../util/which.js';
import { throwIfAborted } from '../alternate.js';
import { exportOs, qemuImgPath, OS_MARKER, OS_MEMORY_MIB, type FullOsImage } from '../full-os.js';
import { Lab } from '../lab.js';
import { waitAnswer, type AppProbe } from '../load.js';
import { freePort, startRegistry, type TestRegistry } from '../peers/registry.js';
import { closeReceiveRoot, openReceiveRoot } from '../receive-root.js';
import { summarize } from '../stats.js';
import type { Metric } from '../scenario.js';
import { MARKER } from './startup.js';
import { hintNeighbour } from './app.js';

/**
 * Portability, as the comparison describes it: a VM travels as a file ("Export VM → OVA/VMDK
 * file → Import to new hypervisor"), a container as an image ("Push to registry → Pull
 * anywhere"). Per kind, what it ships, measured:
 *  - container and isola's microVM ship the same OCI image (isola boots the image as a VM):
 *    its blobs as a registry stores them; pushed with `isola push` to Debian's docker-registry
 *    started here on loopback; received by `isola pull` into an empty data root (the other
 *    side) and started there, as a container or as a microVM, until it answers;
 *  - the full-OS VM ships an OVA (`isola export --format ova`: OVF, stream-optimized VMDK,
 *    manifest); copied over a loopback TCP connection (socat to socat, the bytes a file transfer
 *    moves, to the other side's folder); received by `isola import-vm` (the VMDK converted to
 *    qcow2) into an empty data root and booted there until its workload answers.
 * Transfers are timed several times each; receiving and starting takes one VM boot per round.
 */
export interface PortabilityOptions {
  engine: Engine;
  lab: Lab;
  /** The workload image (the application's, or the probe image). */
  image: ResolvedImage;
  /** Kinds that run the image: container, vm. */
  kinds: Kind[];
  /** The full-OS VM's image, when that arm runs. */
  os?: FullOsImage;
  /** How "started" is seen: the application's answer, or the probe image's first output. */
  app?: AppProbe;
  transfers: number;
  receives: number;
  osReceives: number;
  step: (line: string) => void;
  readyTimeoutMs: (kind: Kind | 'vm-os') => number;
}

/** The blobs a registry holds for the image: manifest, config, layers (compressed), as `isola images` sizes them. */
export function shippedBytes(engine: Engine, image: ResolvedImage): number {
  return engine.images().list().find((i) => i.digest === image.digest)?.size ?? NaN;
}

/** Copies a file over a loopback TCP connection, one socat sending, one receiving; resolves with the milliseconds. */
export async function copyOverLoopback(socat: string, from: string, to: string): Promise<number> {
  const port = await freePort();
  const exited = (c: ReturnType<typeof spawn>, what: string) => new Promise<void>((resolve, reject) => {
    let err = '';
    c.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    c.on('error', reject);
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (${code}): ${err.trim()}`))));
  });
  const receiver = spawn(socat, ['-u', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, `OPEN:${to},creat,trunc`], { stdio: ['ignore', 'ignore', 'pipe'] });
  const received = exited(receiver, 'socat (receiving)');
  const t0 = performance.now();
  // The listener is up once it accepts; retry the sender until it does.
  for (let i = 0; ; i++) {
    const sender = spawn(socat, ['-u', `OPEN:${from}`, `TCP:127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await exited(sender, 'socat (sending)');
      break;
    } catch (e) {
      if (i > 100) {
        receiver.kill('SIGKILL');
        throw e;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  await received;
  const ms = performance.now() - t0;
  if (fs.statSync(to).size !== fs.statSync(from).size) throw new Error(`the copy of ${path.basename(from)} is ${fs.statSync(to).size} bytes, not ${fs.statSync(from).size}`);
  return ms;
}

/** Starts an instance on the receiving side and waits until it answers (or prints its first line). */
async function startThere(lab: Lab, kind: Kind, image: string, app: AppProbe | undefined, timeoutMs: number, osMarker: boolean): Promise<void> {
  const argv = app || osMarker ? [] : ['echo', MARKER];
  const rec = await lab.create(kind, argv, { tag: 'recv', image });
  try {
    await hintNeighbour(rec);
    const started = await lab.start(rec);
    if (app) {
      await waitAnswer(rec.ip as string, app, Date.now() + timeoutMs, lab.signal);
      return;
    }
    const want = osMarker ? OS_MARKER : MARKER;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      for await (const e of lab.engine.logs(started, true, ac.signal)) if (e.text.includes(want)) return;
    } finally {
      clearTimeout(timer);
    }
    throw new Error(`the ${kind} on the receiving side printed nothing within ${timeoutMs / 1000} s`);
  } finally {
    await lab.remove(rec);
  }
}

export async function portability(o: PortabilityOptions): Promise<Metric[]> {
  const size: Metric['kinds'] = {};
  const transfer: Metric['kinds'] = {};
  const receive: Metric['kinds'] = {};
  const notMeasured: Partial<Record<MeasuredKind, string>> = {};
  const extra: Record<string, unknown> = {};
  const signal = o.lab.signal;
  let registry: TestRegistry | null = null;
  let n = 0;
  const otherSide = () => openReceiveRoot(o.engine, `${o.lab.session}-${++n}`);
  const imageKinds = o.kinds.filter((k) => k === 'container' || k === 'vm');
  try {
    // ---- the image: container and microVM -------------------------------------------------
    if (imageKinds.length) {
      const shipped = shippedBytes(o.engine, o.image);
      for (const k of imageKinds) size[k] = summarize([shipped]);
      try {
        registry = await startRegistry();
      } catch (e) {
        for (const k of imageKinds) notMeasured[k] = `no registry to push to: ${(e as Error).message}`;
      }
      if (registry) {
        const reg = registry;
        const pushes: number[] = [];
        const refs: string[] = [];
        for (let i = 0; i < o.transfers; i++) {
          throwIfAborted(signal);
          o.step(`portability: isola push of ${o.image.ref} to a registry on loopback ${i + 1}/${o.transfers}`);
          // A new repository each time: the registry has none of its blobs, so every byte moves.
          const ref = `${reg.host}/compare/${o.lab.session}-${i}:1`;
          const desc = o.engine.images().findDescriptor(o.image.ref);
          if (!desc) throw new Error(`image ${o.image.ref} vanished from the store`);
          await o.engine.images().tagDescriptor(ref, desc);
          refs.push(ref);
          const t0 = performance.now();
          try {
            await pushImage(o.engine.images(), ref, { credentialsFile: o.engine.config.credentialsFile, chunkAbove: o.engine.config.pushChunkAbove });
          } finally {
            await o.engine.images().remove(ref).catch(() => undefined);
          }
          pushes.push(performance.now() - t0);
        }
        for (const k of imageKinds) transfer[k] = summarize(pushes);
        const recv = new Map<Kind, number[]>(imageKinds.map((k) => [k, []]));
        for (let i = 0; i < o.receives; i++) {
          for (const k of imageKinds) {
            throwIfAborted(signal);
            o.step(`portability: ${k}: isola pull into an empty data root and start ${i + 1}/${o.receives}`);
            const ref = refs[i % refs.length] as string;
            const e2 = otherSide();
            try {
              const lab2 = new Lab(e2, o.image, signal, o.lab.session);
              const t0 = performance.now();
              await pullImage(e2.images(), ref, { credentialsFile: o.engine.config.credentialsFile, platform: HOST_PLATFORM, haveZstd: which('zstd', o.engine.config.searchPath) !== null });
              await startThere(lab2, k, ref, o.app, o.readyTimeoutMs(k), false);
              recv.get(k)?.push(performance.now() - t0);
              await lab2.cleanupAll();
            } finally {
              await closeReceiveRoot(e2);
            }
          }
        }
        for (const [k, xs] of recv) if (xs.length) receive[k] = summarize(xs);
        extra.image = { ref: o.image.ref, shippedBytes: shipped, pushMs: pushes, registry: 'Debian docker-registry (CNCF distribution) on 127.0.0.1, plain HTTP' };
      }
    }
    // ---- the OVA: the full-OS VM ----------------------------------------------------------
    if (o.os) {
      const socat = which('socat', o.engine.config.searchPath);
      const dir = path.join(o.os.scratch, 'portability');
      fs.mkdirSync(dir, { recursive: true });
      const ova = path.join(dir, 'vm-os.ova');
      o.step('portability: isola export --format ova of the full-OS VM');
      const osImage = await o.engine.resolveImage(o.os.osRef);
      const t0 = performance.now();
      await exportOs(o.engine, osImage, o.os.layerTar, o.os.workload, ova, 'ova', path.join(dir, 'export'), o.step);
      const exportMs = performance.now() - t0;
      size['vm-os'] = summarize([fs.statSync(ova).size]);
      const wholeDisk = o.engine.images().list().find((i) => i.ref === (o.os as FullOsImage).ref || i.ref === `${(o.os as FullOsImage).ref}:latest`)?.size;
      extra['vm-os'] = { ovaBytes: fs.statSync(ova).size, qcow2ImageBytes: wholeDisk, exportMs, transport: 'socat to socat over a TCP connection on 127.0.0.1' };
      if (!socat) notMeasured['vm-os'] = 'socat is not installed (npm run bootstrap installs it)';
      else {
        const copies: number[] = [];
        const target = path.join(dir, 'received.ova');
        for (let i = 0; i < o.transfers; i++) {
          throwIfAborted(signal);
          o.step(`portability: copying the OVA over loopback ${i + 1}/${o.transfers}`);
          fs.rmSync(target, { force: true });
          copies.push(await copyOverLoopback(socat, ova, target));
        }
        transfer['vm-os'] = summarize(copies);
        const recv: number[] = [];
        for (let i = 0; i < o.osReceives; i++) {
          throwIfAborted(signal);
          o.step(`portability: isola import-vm of the OVA into an empty data root and boot ${i + 1}/${o.osReceives}`);
          const e2 = otherSide();
          try {
            const lab2 = new Lab(e2, o.image, signal, o.lab.session);
            const scratch = path.join(e2.paths.tmp, 'import');
            fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
            const t1 = performance.now();
            await importVm(e2.images(), target, 'received-vm:1', { scratch, qemuImg: qemuImgPath(o.engine), firmware: 'bios', bus: 'virtio', memoryMiB: OS_MEMORY_MIB });
            await startThere(lab2, 'vm', 'received-vm:1', o.app, o.readyTimeoutMs('vm-os'), !o.app);
            recv.push(performance.now() - t1);
            await lab2.cleanupAll();
          } finally {
            await closeReceiveRoot(e2);
          }
        }
        if (recv.length) receive['vm-os'] = summarize(recv);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await registry?.stop();
  }
  const nm = Object.keys(notMeasured).length ? { notMeasured } : {};
  // The microVM's size and push are the container's: one image, measured once (when both ran).
  const shared = imageKinds.includes('vm') && imageKinds.includes('container') ? { sharedWith: { vm: 'container' as const } } : {};
  const started = o.app ? `until it answers (${o.app.kind === 'http' ? `GET :${o.app.port}${o.app.path}` : `TCP :${o.app.port}`})` : 'until its first output';
  return [
    { id: 'portability_artifact_bytes', unit: 'bytes', kinds: size, ...nm, ...shared, deterministic: true, sample: 'the artefact, read once', extra, notes: ['container and isola\'s microVM: the OCI image as a registry stores it (manifest, config and compressed layers; the microVM boots the same image); full-OS VM: the OVA isola export writes (OVF 1.1, stream-optimized VMDK, SHA-256 manifest) with the OS, the workload and 256 MiB of free space in its file system'] },
    { id: 'portability_transfer_ms', unit: 'ms', kinds: transfer, ...nm, ...shared, sample: 'one push (to a new repository) or one copy', notes: ['container and microVM: isola push to Debian\'s docker-registry on 127.0.0.1 (a new repository each time, so every blob moves); full-OS VM: the OVA copied over a TCP connection on 127.0.0.1 (socat to socat); the export that makes the OVA is in extra (exportMs), not in this row'] },
    { id: 'portability_receive_start_ms', unit: 'ms', kinds: receive, ...nm, sample: 'one receive into an empty data root and one start', notes: [`the other side is an empty data root on this host: container and microVM: isola pull, then a new instance ${started}; full-OS VM: isola import-vm of the OVA (VMDK converted to qcow2), then a boot ${started}`] },
  ];
}
