import fs from 'node:fs';
import path from 'node:path';
import type { InstanceSpec } from '../../core/types.js';
import { IsolaError } from '../../core/errors.js';
import { run } from '../../util/exec.js';

/**
 * Host folders and volumes of containers placed in a machine (`-v`, `--mount`). A machine shares
 * one more folder over virtiofs, `<machine>/v`, made a shared mount point on the host before its
 * virtiofsd starts (virtiofsd's mount namespace is then a slave of it). A container's folder is
 * bind-mounted on the host under `<machine>/v/<id>/<n>` when it starts (read-only for `:ro`: the
 * kernel then refuses virtiofsd's writes, whatever the guest asks); the bind propagates into the
 * running virtiofsd, so the guest sees it at `/.isola/v/<id>/<n>`, which runc binds at the
 * container's target. Kata Containers shares volumes the same way. The binds go when the
 * container is cleaned up, all of them when the machine stops.
 */
export function volumeRoot(machineDir: string): string {
  return path.join(machineDir, 'v');
}

/** The host folders a container binds (everything but tmpfs), in the order guestShareSources numbers them. */
export function hostBinds(spec: InstanceSpec): { source: string; readOnly: boolean }[] {
  return (spec.mounts ?? []).flatMap((m) => (m.type === 'tmpfs' ? [] : [{ source: m.source, readOnly: m.readOnly }]));
}

function unescape(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points at or below `dir` in this process's mount table, deepest first. */
export function mountsUnder(dir: string, mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const at = line.split(' ')[4];
    if (!at) continue;
    const p = unescape(at);
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

async function must(args: string[], what: string): Promise<void> {
  const r = await run(args[0] ?? 'mount', args.slice(1));
  if (r.code !== 0) throw new IsolaError('INTERNAL', `${what} failed: ${args.join(' ')}: ${r.stderr.trim()}`, 'see isola machine inspect; isola machine stop and start the machine');
}

/** Before the machine's virtiofsd starts: `<machine>/v` a shared mount point of its own. */
export async function shareVolumeRoot(machineDir: string): Promise<void> {
  const root = volumeRoot(machineDir);
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  if (!mountsUnder(root).includes(root)) await must(['mount', '--bind', root, root], 'making the machine\'s volume folder a mount point');
  await must(['mount', '--make-shared', root], 'making the machine\'s volume folder shared');
}

/** Every bind under `<machine>/v`, and the shared mount point itself (lazily: a busy one goes when released). */
export async function unshareVolumeRoot(machineDir: string): Promise<void> {
  for (const p of mountsUnder(volumeRoot(machineDir))) await run('umount', ['-l', p]);
}

/** At the container's start: its folders bound under `<machine>/v/<id>/<n>` (read-only for :ro). */
export async function mountVolumes(machineDir: string, spec: InstanceSpec): Promise<void> {
  const binds = hostBinds(spec);
  if (binds.length === 0) return;
  const mine = path.join(volumeRoot(machineDir), spec.id);
  if (!mountsUnder(volumeRoot(machineDir)).includes(volumeRoot(machineDir))) {
    throw new IsolaError('FAILED_PRECONDITION', `machine ${spec.machine?.name ?? ''} does not share its volume folder (it was made before volumes reached machines, or its share was taken down)`, 'stop and start the machine (isola machine stop NAME; isola machine start NAME), or recreate it');
  }
  fs.mkdirSync(mine, { recursive: true, mode: 0o700 });
  const mounted = mountsUnder(mine);
  for (const [i, b] of binds.entries()) {
    const at = path.join(mine, String(i));
    if (mounted.includes(at)) continue;
    const st = fs.statSync(b.source); // planMounts made it, or it is the volume's folder
    if (st.isDirectory()) fs.mkdirSync(at, { recursive: true });
    else fs.writeFileSync(at, '', { flag: 'a' });
    await must(['mount', '--bind', b.source, at], `binding ${b.source} for the machine`);
    if (b.readOnly) await must(['mount', '-o', 'remount,bind,ro', at], `making ${b.source} read-only for the machine`);
  }
}

/** Its binds undone and their mount points removed: never a recursive delete, which could reach a host folder still bound. */
export async function unmountVolumes(machineDir: string, id: string): Promise<void> {
  const mine = path.join(volumeRoot(machineDir), id);
  if (!fs.existsSync(mine)) return;
  for (const p of mountsUnder(mine)) await run('umount', ['-l', p]);
  const left = mountsUnder(mine);
  for (const n of fs.readdirSync(mine)) {
    const at = path.join(mine, n);
    if (left.includes(at)) continue;
    try {
      if (fs.lstatSync(at).isDirectory()) fs.rmdirSync(at);
      else fs.unlinkSync(at);
    } catch {
      /* not empty: not a mount point of ours; left for the owner to see */
    }
  }
  try {
    fs.rmdirSync(mine);
  } catch {
    /* something left in it */
  }
}
