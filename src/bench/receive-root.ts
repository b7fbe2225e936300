import fs from 'node:fs';
import path from 'node:path';
import { withRoot } from '../core/config.js';
import { Engine } from '../engine/engine.js';
import { processAlive, processRef, type ProcessRef } from '../util/process.js';

/**
 * "The other side" of the portability rows: a data root of its own (an empty image store, no
 * caches), as a second host would have, under the compare's data root at
 * bench/recv-<session>-<n>. Its instances run on isola's bridge like any other. The folder
 * records the compare process that owns it (pid, start time, boot) before anything runs in it,
 * so that when that process is gone (a crash, a kill -9), the next `isola compare` or
 * `isola system prune` removes its instances (QEMU, conmon and all) and the folder.
 */
const OWNER = 'compare-owner';

export function receiveRootsDir(root: string): string {
  return path.join(root, 'bench');
}

export function openReceiveRoot(main: Engine, name: string): Engine {
  const dir = path.join(receiveRootsDir(main.paths.root), `recv-${name}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const me = processRef(process.pid);
  fs.writeFileSync(path.join(dir, OWNER), me ? `${me.pid} ${me.startTime} ${me.bootId}\n` : `${process.pid} 0 unknown\n`);
  return new Engine(withRoot(main.config, dir));
}

/** Removes every instance of a receiving root, then the root. */
export async function closeReceiveRoot(e: Engine): Promise<void> {
  try {
    await e.reconcile().catch(() => undefined);
    for (const r of e.instances.list()) await e.remove(r.id, true).catch(() => undefined);
  } finally {
    e.close();
    fs.rmSync(e.paths.root, { recursive: true, force: true });
  }
}

function owner(dir: string): ProcessRef | null {
  try {
    const [pid, startTime, bootId] = fs.readFileSync(path.join(dir, OWNER), 'utf8').trim().split(' ');
    return { pid: Number(pid), startTime: Number(startTime), bootId: bootId ?? '' };
  } catch {
    return null;
  }
}

/** Receiving roots whose compare is gone: their instances and folders are removed; resolves with how many. */
export async function sweepReceiveRoots(main: Engine): Promise<number> {
  const base = receiveRootsDir(main.paths.root);
  let n = 0;
  let names: string[];
  try {
    names = fs.readdirSync(base).filter((d) => d.startsWith('recv-'));
  } catch {
    return 0;
  }
  for (const name of names) {
    const dir = path.join(base, name);
    const o = owner(dir);
    if (o && processAlive(o)) continue;
    if (!o) {
      // The owner file is written right after the folder: one without it is a few ms old or dead.
      try {
        if (Date.now() - fs.statSync(dir).mtimeMs < 5000) continue;
      } catch {
        continue;
      }
    }
    if (fs.existsSync(path.join(dir, 'isola.db'))) await closeReceiveRoot(new Engine(withRoot(main.config, dir)));
    else fs.rmSync(dir, { recursive: true, force: true });
    n++;
  }
  return n;
}
