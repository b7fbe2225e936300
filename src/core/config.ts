/**
 * isola's configuration: every environment variable it reads, read here and nowhere else
 * (a lint rule keeps `process.env` out of every other file). Entry points call `loadConfig()`
 * once and hand the result down: the engine to the drivers, the drivers to what they call.
 * docs/CLI.md lists the same variables; a test checks that the two agree.
 */
import os from 'node:os';
import path from 'node:path';
import { invalid } from './errors.js';

export type Accelerator = 'kvm' | 'tcg';
export type VmMachine = 'microvm' | 'q35';
/** The guest kernel VMs boot: isola's own (built from linux-source-6.1) or Debian's cloud kernel. */
export type VmKernel = 'isola' | 'cloud';

export interface Config {
  /** The data root: state database, image store, instances, caches. */
  root: string;
  /** Guest kernels, built guest programs and probe verdicts, shared by every data root. */
  assets: string;
  /** Binaries to use instead of a PATH lookup; unset means look it up. */
  bin: { runc?: string; crun?: string; runsc?: string; conmon?: string; qemu?: string; virtiofsd?: string };
  /** Forces the VM accelerator instead of probing KVM. */
  accel?: Accelerator;
  vm: {
    machine: VmMachine;
    /** Which guest kernel VMs and hybrid instances boot unless --kernel names one. */
    kernel: VmKernel;
    /** How long a guest may take to start its workload; unset means 20 s under KVM, 60 s under TCG. */
    bootTimeoutMs?: number;
    /** Extra words for the guest kernel command line. */
    cmdline: string[];
  };
  /** Prints stack traces and causes with errors. */
  debug: boolean;
  /** The directories of PATH, for finding programs. */
  searchPath: string[];
  /**
   * The caller's environment, for what passes it on: `-e NAME` without a value and the
   * programs isola starts. Read-only; nothing configures isola through it but the above.
   */
  env: Readonly<Record<string, string | undefined>>;
  /** Bounds on what one image may expand to when unpacked; unset means what the disk can take. */
  unpack: { maxBytes?: number; maxEntries?: number };
  /**
   * Registry credentials, in Docker's config.json format and place, so `docker login` and
   * `isola login` share them.
   */
  credentialsFile: string;
  /** Blobs up to this size are pushed in one request; larger ones in 32 MiB chunks. */
  pushChunkAbove: number;
  bench: {
    /** The wall-clock limit of the VM part of `npm run bench`, in seconds. */
    vmLimitS: number;
  };
  /**
   * SOURCE_DATE_EPOCH (reproducible-builds.org): `isola build` uses it for the image's created and
   * history times and as the latest time a file in a COPY or ADD layer may carry.
   */
  sourceDateEpoch?: number;
}

export interface ConfigVariable {
  name: string;
  /** What it sets, for docs/CLI.md. */
  doc: string;
  default: string;
}

/** Every variable isola reads. docs/CLI.md's table is checked against this list. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { name: 'ISOLA_ROOT', default: '/var/lib/isola', doc: 'data root: state database, images, instances, caches' },
  { name: 'ISOLA_ASSETS', default: '/var/cache/isola', doc: 'guest kernel, built guest programs and probe verdicts, shared by every data root' },
  { name: 'ISOLA_RUNC', default: 'runc on PATH', doc: 'the runc binary to use' },
  { name: 'ISOLA_CRUN', default: 'crun on PATH', doc: 'the crun binary to use' },
  { name: 'ISOLA_RUNSC', default: 'runsc on PATH', doc: 'the runsc (gVisor) binary to use' },
  { name: 'ISOLA_CONMON', default: 'conmon on PATH', doc: 'the container monitor binary to use' },
  { name: 'ISOLA_QEMU', default: 'qemu-system-x86_64 on PATH', doc: 'the QEMU binary (a name looked up on PATH, or a path); qemu-img is taken from beside it' },
  { name: 'ISOLA_VIRTIOFSD', default: '/usr/lib/qemu/virtiofsd', doc: 'the virtiofsd that shares folders with VMs (`-v`, `--mount` with --as vm|hybrid): QEMU\'s C virtiofsd (qemu-system-common 7.x)' },
  { name: 'ISOLA_ACCEL', default: 'probed', doc: '`kvm` or `tcg`: skip the KVM boot probe and use this accelerator' },
  { name: 'ISOLA_VM_MACHINE', default: 'microvm', doc: '`microvm` or `q35` (PCI machine with SeaBIOS, slower)' },
  { name: 'ISOLA_VM_KERNEL', default: 'isola', doc: '`isola` (isola\'s own minimal kernel, built by the bootstrap from linux-source-6.1, no modules) or `cloud` (Debian\'s cloud kernel and its modules); `--kernel PATH` overrides both' },
  { name: 'ISOLA_VM_BOOT_TIMEOUT_MS', default: '20000 (KVM), 60000 (TCG)', doc: 'how long a guest may take to start its workload' },
  { name: 'ISOLA_VM_CMDLINE', default: '(none)', doc: 'extra words for the guest kernel command line, space separated' },
  { name: 'ISOLA_UNPACK_MAX_BYTES', default: 'free space less 10 %', doc: 'the most bytes an image\'s layers may expand to when unpacked' },
  { name: 'ISOLA_UNPACK_MAX_ENTRIES', default: 'free inodes less 10 % (at most 4 million)', doc: 'the most entries an image\'s layers may hold' },
  { name: 'ISOLA_PUSH_CHUNK_ABOVE', default: '536870912 (512 MiB)', doc: 'push blobs up to this many bytes in one request, larger ones in 32 MiB chunks (for proxies that limit a request\'s size)' },
  { name: 'ISOLA_DEBUG', default: '(unset)', doc: 'any value: print stack traces and causes with errors' },
  { name: 'DOCKER_CONFIG', default: '~/.docker', doc: 'folder of the registry credentials file `config.json` (Docker\'s format, shared with `docker login`)' },
  { name: 'HOME', default: 'the user\'s home from the password database', doc: 'where `~/.docker/config.json` is when DOCKER_CONFIG is unset' },
  { name: 'ISOLA_BENCH_VM_LIMIT_S', default: '420', doc: '`npm run bench`: wall-clock limit of the VM scenario, in seconds' },
  { name: 'SOURCE_DATE_EPOCH', default: '(unset)', doc: '`isola build`: Unix time used for the image\'s created and history times and as the latest mtime of files in COPY/ADD layers (reproducible builds; `--build-arg SOURCE_DATE_EPOCH=N` does the same)' },
];

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function positiveNumber(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw invalid(`${name}=${raw} is not a positive number`, `set ${name} to a number such as 60000, or unset it`);
  return n;
}

function oneOf<T extends string>(env: Record<string, string | undefined>, name: string, allowed: readonly T[]): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw invalid(`${name}=${raw} is not one of ${allowed.join(', ')}`, `set ${name} to ${allowed.join(' or ')}, or unset it`);
  return raw as T;
}

/** A Unix time in whole seconds, as SOURCE_DATE_EPOCH is defined. */
export function parseEpoch(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) throw invalid(`${name}=${raw} is not a Unix time in seconds`, `set ${name} to a whole number such as $(git log -1 --pretty=%ct), or unset it`);
  return Number(raw);
}

function pathOf(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const raw = env[name];
  const p = raw === undefined || raw === '' ? fallback : raw;
  // Resolved against the working directory, as a shell user expects of a relative path.
  return path.resolve(p);
}

function set(env: Record<string, string | undefined>, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Reads a configuration from an environment (the process's own by default). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const bin: Config['bin'] = {};
  for (const [key, name] of [['runc', 'ISOLA_RUNC'], ['crun', 'ISOLA_CRUN'], ['runsc', 'ISOLA_RUNSC'], ['conmon', 'ISOLA_CONMON'], ['qemu', 'ISOLA_QEMU'], ['virtiofsd', 'ISOLA_VIRTIOFSD']] as const) {
    const v = set(env, name);
    if (v !== undefined) bin[key] = v;
  }
  const accel = oneOf(env, 'ISOLA_ACCEL', ['kvm', 'tcg'] as const);
  const bootTimeoutMs = positiveNumber(env, 'ISOLA_VM_BOOT_TIMEOUT_MS');
  const maxBytes = positiveNumber(env, 'ISOLA_UNPACK_MAX_BYTES');
  const maxEntries = positiveNumber(env, 'ISOLA_UNPACK_MAX_ENTRIES');
  const epoch = parseEpoch('SOURCE_DATE_EPOCH', env.SOURCE_DATE_EPOCH);
  return {
    root: pathOf(env, 'ISOLA_ROOT', '/var/lib/isola'),
    assets: pathOf(env, 'ISOLA_ASSETS', '/var/cache/isola'),
    bin,
    ...(accel ? { accel } : {}),
    vm: {
      machine: oneOf(env, 'ISOLA_VM_MACHINE', ['microvm', 'q35'] as const) ?? 'microvm',
      kernel: oneOf(env, 'ISOLA_VM_KERNEL', ['isola', 'cloud'] as const) ?? 'isola',
      ...(bootTimeoutMs ? { bootTimeoutMs } : {}),
      cmdline: (env.ISOLA_VM_CMDLINE ?? '').split(' ').filter(Boolean),
    },
    debug: Boolean(env.ISOLA_DEBUG),
    searchPath: (env.PATH || DEFAULT_PATH).split(':').filter(Boolean),
    env: Object.freeze({ ...env }),
    unpack: { ...(maxBytes ? { maxBytes } : {}), ...(maxEntries ? { maxEntries } : {}) },
    credentialsFile: path.join(pathOf(env, 'DOCKER_CONFIG', path.join(set(env, 'HOME') ?? os.homedir(), '.docker')), 'config.json'),
    pushChunkAbove: positiveNumber(env, 'ISOLA_PUSH_CHUNK_ABOVE') ?? 512 * 1024 * 1024,
    bench: { vmLimitS: positiveNumber(env, 'ISOLA_BENCH_VM_LIMIT_S') ?? 420 },
    ...(epoch !== undefined ? { sourceDateEpoch: epoch } : {}),
  };
}

/** The same configuration with another data root (the `--data-root` of internal commands, tests). */
export function withRoot(config: Config, root: string): Config {
  return { ...config, root };
}

/** The table docs/CLI.md shows under "Environment" (a test keeps the two identical). */
export function configTableMarkdown(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  return ['| variable | default | sets |', '|---|---|---|', ...CONFIG_VARIABLES.map((v) => `| \`${v.name}\` | ${cell(v.default)} | ${cell(v.doc)} |`)].join('\n');
}
