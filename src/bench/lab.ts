import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import type { Kind, ResolvedImage } from '../core/types.js';
import type { Engine } from '../engine/engine.js';
import type { InstanceRecord } from '../state/instances.js';
import { defaultRunRequest } from '../engine/request.js';
import { unpackImage } from '../image/unpack.js';
import { throwIfAborted } from './alternate.js';
import { collectOutput } from '../util/collect.js';
import type { MountRequest } from '../engine/mount-flags.js';

/** Where a measurement runs: on the host itself, or in an instance of one isolation kind. */
export type Target = 'native' | Kind;

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface LaunchOptions {
  tag: string;
  memoryBytes?: number;
  /** Another image than the lab's (its reference). */
  image?: string;
  mounts?: MountRequest[];
}

/**
 * The benchmarks' handle on instances: every instance it starts is tracked and removed again,
 * whatever happens (an error, Ctrl-C). Instances are driven through the Engine, so they are
 * real isola instances in the state database, visible in `isola ps` while they exist; their
 * names start with `cmp-<session>-` so a sweep finds any that slipped through.
 */
export class Lab {
  readonly session: string = randomBytes(3).toString('hex');
  private readonly tracked = new Map<string, InstanceRecord>();
  private counter = 0;
  private nativeRoot?: string;

  constructor(
    readonly engine: Engine,
    readonly image: ResolvedImage,
    readonly signal: AbortSignal,
    /** Instance names start with cmp-<session>-; a receiving side shares its sender's session. */
    session?: string,
  ) {
    if (session) this.session = session;
  }

  name(tag: string): string {
    return `cmp-${this.session}-${tag}-${++this.counter}`;
  }

  /**
   * Creates an instance (prepared, not started) and tracks it. `image` names another image than
   * the lab's own (the application, or the full-OS VM's disk); an empty argv keeps the image's
   * own command.
   */
  async create(kind: Kind, argv: string[], opts: LaunchOptions): Promise<InstanceRecord> {
    throwIfAborted(this.signal);
    const req = {
      ...defaultRunRequest(opts.image ?? this.image.ref, argv), kind, name: this.name(opts.tag),
      ...(opts.memoryBytes ? { memoryBytes: opts.memoryBytes } : {}), ...(opts.mounts ? { mounts: opts.mounts } : {}),
    };
    const rec = await this.engine.create(req);
    this.tracked.set(rec.id, rec);
    return rec;
  }

  async start(rec: InstanceRecord): Promise<InstanceRecord> {
    const started = await this.engine.start(rec);
    this.tracked.set(rec.id, started);
    return started;
  }

  async launch(kind: Kind, argv: string[], opts: LaunchOptions): Promise<InstanceRecord> {
    return this.start(await this.create(kind, argv, opts));
  }

  /** Runs argv in a running instance, optionally feeding stdin. */
  async exec(rec: InstanceRecord, argv: string[], stdin?: Buffer): Promise<ExecResult> {
    return collectOutput((io) => this.engine.exec(rec.id, argv, { ...io, stdin: stdin ? Readable.from([stdin]) : null }));
  }

  async remove(rec: InstanceRecord): Promise<void> {
    try {
      await this.engine.remove(rec.id, true);
    } catch {
      /* already gone */
    }
    this.tracked.delete(rec.id);
  }

  /** Removes every instance this lab started, and any instance of this session left in the database. */
  async cleanupAll(): Promise<void> {
    const recs = [...this.tracked.values()];
    // Containers in parallel are cheap; VMs are killed, not shut down, so this is quick too.
    await Promise.all(recs.map((r) => this.remove(r)));
    for (const r of this.engine.instances.list()) {
      if (r.name.startsWith(`cmp-${this.session}-`)) await this.remove(r);
    }
    if (this.nativeRoot) fs.rmSync(this.nativeRoot, { recursive: true, force: true });
  }

  get liveCount(): number {
    return this.tracked.size;
  }

  // ---- native: the same binaries, run on the host by chroot into the unpacked image ---------

  /** The image unpacked under the data root (the file system the instances use too). */
  async nativeTree(): Promise<string> {
    if (!this.nativeRoot) {
      const dir = path.join(this.engine.paths.root, 'bench', `native-${this.session}`);
      fs.mkdirSync(dir, { recursive: true });
      this.nativeRoot = dir;
      await unpackImage(this.image, dir);
    }
    return this.nativeRoot;
  }

  async execNative(argv: string[], stdin?: Buffer): Promise<ExecResult> {
    const root = await this.nativeTree();
    const env = this.image.config.env.length ? this.image.config.env : ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
    return new Promise((resolve, reject) => {
      const child = spawn('chroot', [root, 'env', '-i', ...env, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? 255, stdout: out, stderr: err }));
      child.stdin.on('error', () => undefined);
      child.stdin.end(stdin);
    });
  }

  /** Starts a long-lived native process in the chroot (the network echo server); its pid (chroot and env exec it, so the pid is the program's) and a stop function. */
  async spawnNative(argv: string[]): Promise<{ pid: number | undefined; stop: () => void }> {
    const root = await this.nativeTree();
    const env = this.image.config.env.length ? this.image.config.env : ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'];
    const child = spawn('chroot', [root, 'env', '-i', ...env, ...argv], { stdio: 'ignore', detached: false });
    child.on('error', () => undefined);
    const stop = () => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    };
    return { pid: child.pid, stop };
  }

  /** Runs argv in the target: natively in the chroot, or inside the given instance. */
  run(target: Target, rec: InstanceRecord | undefined, argv: string[], stdin?: Buffer): Promise<ExecResult> {
    if (target === 'native') return this.execNative(argv, stdin);
    if (!rec) throw new Error(`no instance for ${target}`);
    return this.exec(rec, argv, stdin);
  }
}
