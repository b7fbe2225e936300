import type { CliContext } from './context.js';
import os from 'node:os';
import fs from 'node:fs';
import type { Command } from 'commander';
import { Drivers } from '../drivers/registry.js';
import type { Config } from '../core/config.js';
import type { Capability, Kind } from '../core/types.js';
import { printJson } from './context.js';

/**
 * `isola host`: what this host offers. Host facts, then each registered driver's own probe():
 * the container driver reports its runtimes, the VM driver QEMU, the accelerator (KVM usable or
 * not, and why) and the guest kernel. Nothing here knows a concrete driver.
 */
export interface HostReport {
  host: Record<string, string>;
  kinds: { kind: Kind; ok: boolean; reason?: string; details: Record<string, string> }[];
}

function cpuModel(): string {
  return os.cpus()[0]?.model ?? 'unknown';
}

function virtualization(): string {
  try {
    const flags = /^flags\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '';
    const words = flags.split(/\s+/);
    const hw = words.includes('vmx') ? 'vmx' : words.includes('svm') ? 'svm' : 'no vmx/svm CPU flag';
    return `${hw}${words.includes('hypervisor') ? ' (this host is itself a virtual machine)' : ''}`;
  } catch {
    return 'unknown';
  }
}

export async function hostReport(config: Config): Promise<HostReport> {
  const host = {
    kernel: os.release(),
    cpu: cpuModel(),
    cores: String(os.cpus().length),
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    virtualization: virtualization(),
  };
  const kinds = await Promise.all(new Drivers(config).all().map(async (d) => {
    let cap: Capability;
    try {
      cap = await d.probe();
    } catch (e) {
      cap = { ok: false, reason: (e as Error).message, details: {} };
    }
    return { kind: d.kind, ok: cap.ok, ...(cap.reason ? { reason: cap.reason } : {}), details: cap.details };
  }));
  return { host, kinds };
}

export function renderHost(r: HostReport): string {
  const lines: string[] = ['host'];
  const pad = (k: string): string => `  ${k}:`.padEnd(18);
  for (const [k, v] of Object.entries(r.host)) lines.push(`${pad(k)}${v}`);
  for (const k of r.kinds) {
    lines.push('', `${k.kind}: ${k.ok ? 'available' : `unavailable: ${k.reason ?? 'unknown reason'}`}`);
    for (const [name, v] of Object.entries(k.details)) lines.push(`${pad(name)}${v}`);
  }
  return lines.join('\n') + '\n';
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('host')
    .description('show what this host offers: runtimes, KVM usable or not and why, QEMU, guest kernel')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const r = await hostReport(ctx.config);
      if (o.json) printJson(r);
      else process.stdout.write(renderHost(r));
    });
}
