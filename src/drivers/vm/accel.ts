import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Config } from '../../core/config.js';
import { which } from '../../util/which.js';
import { readGuestAssets } from '../../guest/assets.js';
import { IsolaError } from '../../core/errors.js';

export type Accel = 'kvm' | 'tcg';

export interface AccelVerdict {
  accel: Accel;
  kvmUsable: boolean;
  /** Why KVM is not used (or 'ok'). */
  reason: string;
  /** The -cpu model that worked under KVM. */
  cpu?: string;
  hostKernel: string;
  probedAt: string;
  probeMs?: number;
}

const PROBE_TIMEOUT_MS = 4000;
const MARKER = 'ISOLA-PROBE-OK';

/** The QEMU binary: $ISOLA_QEMU, or qemu-system-x86_64 on PATH. Throws UNAVAILABLE when missing. */
export function findQemu(config: Config): string {
  const name = config.bin.qemu ?? 'qemu-system-x86_64';
  const found = which(name, config.searchPath);
  if (found) return found;
  throw new IsolaError('UNAVAILABLE', `QEMU (${name}) is not installed or not on PATH`, 'install Debian\'s qemu-system-x86 and qemu-utils (npm run bootstrap does)');
}

export function findQemuImg(config: Config): string {
  const qemu = findQemu(config);
  const sibling = path.join(path.dirname(qemu), 'qemu-img');
  if (fs.existsSync(sibling)) return sibling;
  throw new IsolaError('UNAVAILABLE', 'qemu-img is not installed', 'install Debian\'s qemu-utils (npm run bootstrap does)');
}

function cachePath(assets: string): string {
  return path.join(assets, `accel-${os.release()}.json`);
}

/** Runs QEMU until the marker appears, it exits, or the timeout passes. */
function bootOnce(qemu: string, args: string[], timeoutMs: number): Promise<{ ok: boolean; timedOut: boolean; output: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let settled = false;
    const finish = (ok: boolean, timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve({ ok, timedOut, output, ms: Date.now() - started });
    };
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (output.includes(MARKER)) finish(true, false);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', () => finish(false, false));
    child.on('exit', () => setImmediate(() => finish(output.includes(MARKER), false)));
    const timer = setTimeout(() => finish(false, true), timeoutMs);
  });
}

/**
 * Is KVM really usable? /dev/kvm existing is not enough: under some nested paravirtualized
 * hosts ordinary guests hang. So boot the guest kernel with `isola.probe=1` (init prints a
 * marker and powers off) under KVM with a short timeout. The verdict is cached per host
 * kernel in the assets folder; $ISOLA_ACCEL=kvm|tcg overrides it.
 */
export async function probeAccelerator(config: Config, opts: { fresh?: boolean } = {}): Promise<AccelVerdict> {
  const base = { hostKernel: os.release(), probedAt: new Date().toISOString() };
  const forced = config.accel;
  if (forced) {
    return { ...base, accel: forced, kvmUsable: forced === 'kvm', reason: `forced by ISOLA_ACCEL=${forced}`, cpu: forced === 'kvm' ? 'host' : 'max' };
  }
  if (!opts.fresh) {
    try {
      return JSON.parse(fs.readFileSync(cachePath(config.assets), 'utf8')) as AccelVerdict;
    } catch {
      /* probe */
    }
  }
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no /dev/kvm (no hardware virtualization exposed to this host)' : 'cannot open /dev/kvm read-write (run as root)';
    return save(config.assets, { ...base, accel: 'tcg', kvmUsable: false, reason: why });
  }
  const assets = readGuestAssets(config.assets);
  if (!assets) return { ...base, accel: 'tcg', kvmUsable: false, reason: 'not probed yet: the guest kernel is not set up (npm run bootstrap)' };
  let qemu: string;
  try {
    qemu = findQemu(config);
  } catch (e) {
    return { ...base, accel: 'tcg', kvmUsable: false, reason: (e as Error).message };
  }
  // -cpu host first (what a VM would use); then QEMU's default model, the "ordinary guest".
  const failures: string[] = [];
  for (const cpu of ['host', 'default']) {
    const args = ['-M', 'microvm', '-accel', 'kvm', ...(cpu === 'default' ? [] : ['-cpu', cpu]), '-m', '128', '-smp', '1',
      '-nodefaults', '-no-user-config', '-display', 'none', '-serial', 'stdio', '-no-reboot', '-kernel', assets.kernel,
      '-initrd', assets.initramfs, '-append', 'console=ttyS0 quiet panic=-1 isola.probe=1'];
    const r = await bootOnce(qemu, args, PROBE_TIMEOUT_MS);
    if (r.ok) return save(config.assets, { ...base, accel: 'kvm', kvmUsable: true, reason: 'ok', cpu, probeMs: r.ms });
    failures.push(r.timedOut
      ? `with the ${cpu} CPU model the test guest did not reach userspace within ${PROBE_TIMEOUT_MS / 1000} s (nested paravirtualization?)`
      : `with -cpu ${cpu} QEMU failed: ${lastLine(r.output)}`);
  }
  const last = `KVM present but unusable: ${failures.join('; ')}`;
  return save(config.assets, { ...base, accel: 'tcg', kvmUsable: false, reason: last });
}

function lastLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter((l) => l && !/warning:/.test(l));
  return (lines[0] ?? 'no output').slice(0, 200);
}

function save(assets: string, v: AccelVerdict): AccelVerdict {
  try {
    fs.mkdirSync(assets, { recursive: true });
    const tmp = `${cachePath(assets)}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(v, null, 2) + '\n');
    fs.renameSync(tmp, cachePath(assets));
  } catch {
    /* an unwritable cache only costs another probe */
  }
  return v;
}
