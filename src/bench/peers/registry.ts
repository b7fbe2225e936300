import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../util/exec.js';

/**
 * A real registry for tests and benchmarks: Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1,
 * a free port, storage in a temp folder; with `tls`, a CA made here with openssl and a server
 * certificate for IP 127.0.0.1; with `auth`, htpasswd (bcrypt) users. `stop()` ends it and
 * removes everything it made.
 */
export interface TestRegistry {
  /** 127.0.0.1:PORT, as a reference names it. */
  host: string;
  dir: string;
  /** The CA certificate (PEM) that signed the server's, with `tls`. */
  caFile?: string;
  /** A folder holding only ca.crt, as skopeo's --cert-dir and podman's --cert-dir want it. */
  certDir?: string;
  stop(): Promise<void>;
}

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args, { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** bcrypt for htpasswd, with Debian's python3 (distribution accepts only bcrypt). */
async function bcrypt(password: string): Promise<string> {
  const out = await must('/usr/bin/python3', ['-W', 'ignore', '-c', 'import crypt,sys;print(crypt.crypt(sys.argv[1],crypt.mksalt(crypt.METHOD_BLOWFISH,rounds=1<<10)))', password]);
  return out.trim();
}

async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string; certDir: string }> {
  const f = (n: string) => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await must('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=isola test CA']);
  await must('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1']);
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  await must('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.crt'), '-days', '2', '-extfile', f('san.ext')]);
  const certDir = f('certs');
  fs.mkdirSync(certDir);
  fs.copyFileSync(f('ca.crt'), path.join(certDir, 'ca.crt'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key'), certDir };
}

async function waitReady(child: ChildProcess, url: string, ca: string | undefined, log: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${log()}`);
    const status = await new Promise<number>((resolve) => {
      const mod = url.startsWith('https') ? https : http;
      const req = mod.get(url, ca ? { ca: fs.readFileSync(ca) } : {}, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve(0));
      req.setTimeout(1000, () => req.destroy());
    });
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer ${url} within 15 s: ${log()}`);
    await sleep(20);
  }
}

export async function startRegistry(opts: { tls?: boolean; auth?: { user: string; password: string } } = {}): Promise<TestRegistry> {
  if (!fs.existsSync(REGISTRY_BIN)) throw new Error(`${REGISTRY_BIN} is missing: apt-get install docker-registry (npm run bootstrap does)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-registry-'));
  let child: ChildProcess | undefined;
  try {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const lines = [
      'version: 0.1',
      'log:', '  level: warn', '  accesslog:', '    disabled: true',
      'storage:', `  filesystem:`, `    rootdirectory: ${path.join(dir, 'data')}`, '  delete:', '    enabled: true',
      'http:', `  addr: ${host}`, '  secret: x',
    ];
    let certs: Awaited<ReturnType<typeof makeCertificates>> | undefined;
    if (opts.tls) {
      certs = await makeCertificates(dir);
      lines.push('  tls:', `    certificate: ${certs.cert}`, `    key: ${certs.key}`);
    }
    if (opts.auth) {
      fs.writeFileSync(path.join(dir, 'htpasswd'), `${opts.auth.user}:${await bcrypt(opts.auth.password)}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: isola-test', `    path: ${path.join(dir, 'htpasswd')}`);
    }
    fs.writeFileSync(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
    child = spawn(REGISTRY_BIN, ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const proc = child;
    await waitReady(proc, `${opts.tls ? 'https' : 'http'}://${host}/v2/`, certs?.ca, () => log);
    return {
      host, dir,
      ...(certs ? { caFile: certs.ca, certDir: certs.certDir } : {}),
      async stop() {
        if (proc.exitCode === null) {
          const exited = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await Promise.race([exited, sleep(5000, undefined, { ref: false })]); // unref'd: a stopped registry does not keep the process 5 s
          if (proc.exitCode === null) proc.kill('SIGKILL');
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
