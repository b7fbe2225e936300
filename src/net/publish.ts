import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { IsolaError, invalid } from '../core/errors.js';
import { which } from '../util/which.js';
import { processAlive } from '../util/process.js';

/** One `-p [HOST_IP:]HOST_PORT:INSTANCE_PORT[/tcp]` mapping. */
export interface PortMapping {
  hostIp: string;
  hostPort: number;
  instancePort: number;
}

export interface Forwarder extends PortMapping {
  pid: number;
}

function port(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 65535) throw invalid(`invalid ${what} "${text}" in --publish`, 'use -p HOST_PORT:INSTANCE_PORT, ports 1-65535');
  return n;
}

export function parsePublish(spec: string): PortMapping {
  const [body = '', proto = 'tcp'] = spec.split('/');
  if (proto !== 'tcp') throw invalid(`--publish ${spec}: only tcp is supported`, 'drop the /udp suffix');
  const parts = body.split(':');
  if (parts.length === 2) return { hostIp: '0.0.0.0', hostPort: port(parts[0] ?? '', 'host port'), instancePort: port(parts[1] ?? '', 'instance port') };
  if (parts.length === 3 && net.isIPv4(parts[0] ?? '')) return { hostIp: parts[0] ?? '', hostPort: port(parts[1] ?? '', 'host port'), instancePort: port(parts[2] ?? '', 'instance port') };
  throw invalid(`invalid --publish "${spec}"`, 'use -p HOST_PORT:INSTANCE_PORT or -p HOST_IP:HOST_PORT:INSTANCE_PORT');
}

/** Fails early, with the port named, when something already listens there. */
export function assertPortFree(m: PortMapping): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', () => reject(new IsolaError('FAILED_PRECONDITION', `host port ${m.hostIp}:${m.hostPort} is already in use`, 'choose another host port with -p')));
    s.listen(m.hostPort, m.hostIp, () => s.close(() => resolve()));
  });
}

/**
 * A published port is a small userland proxy per mapping, as Docker's docker-proxy is: socat,
 * daemonized, forwarding host connections to the instance's bridge address. It works the same
 * for every isolation kind, because containers and VMs alike have an address on isola0.
 */
export async function startForwarder(m: PortMapping, targetIp: string, searchPath: readonly string[]): Promise<Forwarder> {
  const socat = which('socat', searchPath);
  if (!socat) throw new IsolaError('UNAVAILABLE', 'publishing a port needs socat, which is missing', 'install Debian\'s socat package (npm run bootstrap does)');
  const child = spawn(socat, [`TCP-LISTEN:${m.hostPort},bind=${m.hostIp},fork,reuseaddr`, `TCP:${targetIp}:${m.instancePort}`], { detached: true, stdio: 'ignore' });
  child.unref();
  // Wait until it listens, so a client that connects right after `run -d` is served.
  const deadline = Date.now() + 3000;
  for (;;) {
    if (child.exitCode !== null || !processAlive(child.pid)) throw new IsolaError('FAILED_PRECONDITION', `could not listen on ${m.hostIp}:${m.hostPort}`, 'choose another host port with -p');
    if (await listening(m)) break;
    if (Date.now() > deadline) break;
    await sleep(10);
  }
  return { ...m, pid: child.pid ?? 0 };
}

function listening(m: PortMapping): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: m.hostIp === '0.0.0.0' ? '127.0.0.1' : m.hostIp, port: m.hostPort });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Idempotent. */
export function stopForwarders(fw: Forwarder[]): void {
  for (const f of fw) {
    if (!processAlive(f.pid, { cmdlineIncludes: `TCP-LISTEN:${f.hostPort},` })) continue; // never signal a recycled pid
    try {
      // The whole process group: socat's forked children serving open connections too.
      process.kill(-f.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}
