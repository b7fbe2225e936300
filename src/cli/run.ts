import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';
import { parseBytes, parseCpus } from '../core/units.js';
import { invalid } from '../core/errors.js';
import { KINDS, type Kind } from '../core/types.js';
import type { RunRequest } from '../engine/request.js';
import { parsePublish } from '../net/publish.js';
import type { Engine } from '../engine/engine.js';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag } from '../engine/mount-flags.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from './detach-keys.js';
import { openClient } from './terminal.js';
import { checkDnsOption, checkDnsSearch, checkDnsServer, parseAddHost } from '../net/etc-files.js';
import { parseRestartPolicy } from '../engine/restart-policy.js';
import { resolveHealth, type HealthFlags } from '../engine/health.js';
import { parseDevice, parseLabels, parseLogOpts, parseSignal, parseStopTimeout, parseUlimit, readEnvFiles } from './run-flags.js';

interface RunFlags {
  /** --machine NAME: place the container in a machine (docs/MACHINES.md); implies --as hybrid. */
  machine?: string;
  detach?: boolean;
  rm?: boolean;
  name?: string;
  env: string[];
  publish: string[];
  memory?: string;
  cpus?: string;
  pidsLimit?: string;
  workdir?: string;
  user?: string;
  readOnly?: boolean;
  hostname?: string;
  network: string;
  as: string;
  runtime?: string;
  kernel?: string;
  initrd?: string;
  entrypoint?: string;
  privileged?: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  disk?: string;
  firmware: string;
  diskBus: string;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  interactive?: boolean;
  tty?: boolean;
  detachKeys?: string;
  publishAll?: boolean;
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
  // lifecycle (docs/LIFECYCLE.md)
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  /** false with --no-healthcheck */
  healthcheck?: boolean;
  envFile?: string[];
  label?: string[];
  ulimit?: string[];
  init?: boolean;
  stopSignal?: string;
  stopTimeout?: string;
  device?: string[];
  logOpt?: string[];
}

/** The flags `run` and `create` share, in Docker's spelling. */
export function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--as <kind>', `isolation kind: ${KINDS.join(', ')}`, 'container')
    .option('--machine <name>', 'place the container in this machine (isola machine create), beside its other containers; implies --as hybrid')
    .option('--name <name>', 'assign a name to the instance')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-p, --publish <[ip:][host:]port[/tcp|udp]>', 'publish an instance port on the host (repeatable; kernel forwarding, nftables DNAT; no host port: a free one)', collect, [])
    .option('-P, --publish-all', 'publish every port the image exposes (EXPOSE), each on a free host port')
    .option('-m, --memory <bytes>', 'memory limit (container) or guest RAM (vm), e.g. 64m, 1g')
    .option('--cpus <n>', 'CPU limit (container) or vCPUs (vm), e.g. 0.5, 2')
    .option('--pids-limit <n>', 'maximum number of processes')
    .option('-w, --workdir <dir>', 'working directory inside the instance')
    .option('-u, --user <user[:group]>', 'user (name or uid) to run as')
    .option('--read-only', 'mount the root file system read-only')
    .option('--hostname <name>', 'hostname inside the instance')
    .option('--network <network>', 'network: bridge (isola0, 10.77.0.0/16), none, or a user network (isola network create)', 'bridge')
    .option('--add-host <host:ip>', 'add a line to /etc/hosts (repeatable; ip may be host-gateway)', collect, [])
    .option('--dns <ip>', 'nameserver for /etc/resolv.conf instead of the host\'s (repeatable)', collect, [])
    .option('--dns-search <domain>', 'search domain for /etc/resolv.conf instead of the host\'s (repeatable; . for none)', collect, [])
    .option('--dns-option <option>', 'resolv.conf option instead of the host\'s, e.g. ndots:2 (repeatable)', collect, [])
    .option('--runtime <name>', 'OCI runtime for containers: runc, crun, runsc')
    .option('--kernel <path>', 'guest kernel for --as vm|hybrid')
    .option('--initrd <path>', 'guest initrd for --as vm|hybrid')
    .option('--entrypoint <cmd>', 'override the image\'s entrypoint')
    .option('--privileged', 'give the container every capability, no seccomp, no masked paths')
    .option('--cap-add <cap>', 'add a capability (repeatable)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability, or ALL (repeatable)', collect, [])
    .option('--security-opt <opt>', 'seccomp=PATH|unconfined, no-new-privileges[=true|false] (repeatable)', collect, [])
    .option('--disk <file>', 'boot this disk (qcow2, VMDK, VDI, raw or OVA) as a whole-disk VM, instead of an image (every argument is then the command)')
    .option('--firmware <kind>', 'with --disk: bios (SeaBIOS) or uefi (OVMF)', 'bios')
    .option('--disk-bus <bus>', 'with --disk: virtio, or sata (with an e1000e NIC) for an OS without virtio drivers', 'virtio')
    .option('-v, --volume <[src:]path[:opts]>', 'mount a host folder (/path or ./path), a named volume (name) or, with a path alone, an anonymous volume; opts: ro, rw, a propagation (repeatable)', collect, [])
    .option('--mount <type=...,source=...,target=...>', 'mount in Docker\'s --mount syntax: type=bind|volume|tmpfs, readonly, bind-propagation, tmpfs-size, tmpfs-mode (repeatable)', collect, [])
    .option('--tmpfs <path[:size=..,mode=..]>', 'mount a tmpfs (memory) at path; noexec unless exec is given (repeatable)', collect, [])
    .option('-i, --interactive', 'keep the workload\'s stdin open (in the foreground: pass isola\'s stdin to it)')
    .option('-t, --tty', 'run the workload on a pseudo-terminal (stdout and stderr become one stream)')
    .option('--detach-keys <keys>', `keys that detach from the workload's terminal, leaving it running (default ${DEFAULT_DETACH_KEYS})`)
    // lifecycle (docs/LIFECYCLE.md)
    .option('--restart <policy>', 'restart policy: no, on-failure[:N], always, unless-stopped')
    .option('--health-cmd <cmd>', 'health check command (run with /bin/sh -c inside the instance)')
    .option('--health-interval <duration>', 'time between health checks (default 30s)')
    .option('--health-timeout <duration>', 'how long one check may take (default 30s)')
    .option('--health-retries <n>', 'failures in a row that make it unhealthy (default 3)')
    .option('--health-start-period <duration>', 'time to start during which failures do not count (default 0s)')
    .option('--health-start-interval <duration>', 'time between checks during the start period (default 5s)')
    .option('--no-healthcheck', 'disable the image\'s HEALTHCHECK')
    .option('--env-file <file>', 'read environment variables from a file of KEY=VALUE lines (repeatable)', collect, [])
    .option('-l, --label <KEY=VALUE>', 'set a label (repeatable)', collect, [])
    .option('--ulimit <name=soft[:hard]>', 'a resource limit, e.g. nofile=1024:2048 (repeatable)', collect, [])
    .option('--init', 'run a tiny init (tini) as PID 1 that reaps zombies and passes signals on')
    .option('--stop-signal <signal>', 'signal that stop sends first (default SIGTERM, or the image\'s STOPSIGNAL)')
    .option('--stop-timeout <seconds>', 'seconds stop waits before SIGKILL (default 10)')
    .option('--device <host[:container][:rwm]>', 'give the container a host device (containers only; repeatable)', collect, [])
    .option('--log-opt <max-size=SIZE>', 'log file limit: past SIZE a container\'s log is started again empty, a vm\'s or hybrid\'s has its oldest half cut (checked every 250 ms) (repeatable)', collect, []);
}

/**
 * The image and command of `run` and `create`: IMAGE [COMMAND...], or with --disk FILE the disk
 * imported as an image (and every argument the command).
 */
async function target(e: Engine, cmd: Command, image: string | undefined, command: string[], f: RunFlags): Promise<{ image: string; command: string[]; flags: RunFlags }> {
  if (f.disk === undefined) {
    if (image === undefined) throw invalid('no image given', 'give an image (isola run IMAGE [COMMAND...]), or a disk with --disk FILE');
    return { image, command, flags: f };
  }
  const { imageForDisk } = await import('./run-disk.js');
  const asGiven = cmd.getOptionValueSource('as') !== 'default';
  const ref = await imageForDisk(e, { ...f, disk: f.disk, asGiven }, (s) => process.stderr.write(`${s}\n`));
  return { image: ref, command: image === undefined ? command : [image, ...command], flags: { ...f, as: 'vm' } };
}

/** The lifecycle part of the request; every bad value is refused here, before anything is made. */
function lifecycleRequest(f: RunFlags, kind: Kind): Partial<RunRequest> {
  const health: HealthFlags = {
    ...(f.healthCmd !== undefined ? { cmd: f.healthCmd } : {}),
    ...(f.healthInterval !== undefined ? { interval: f.healthInterval } : {}),
    ...(f.healthTimeout !== undefined ? { timeout: f.healthTimeout } : {}),
    ...(f.healthRetries !== undefined ? { retries: f.healthRetries } : {}),
    ...(f.healthStartPeriod !== undefined ? { startPeriod: f.healthStartPeriod } : {}),
    ...(f.healthStartInterval !== undefined ? { startInterval: f.healthStartInterval } : {}),
    ...(f.healthcheck === false ? { none: true } : {}),
  };
  resolveHealth(undefined, health); // checks the flags now; the image's HEALTHCHECK is merged at create
  const restart = f.restart !== undefined ? parseRestartPolicy(f.restart) : undefined;
  if (restart && restart.name !== 'no' && f.rm) throw invalid('--restart and --rm conflict: an instance that removes itself when it exits cannot be restarted', 'drop one of them');
  const labels = parseLabels(f.label ?? []);
  return {
    ...(restart ? { restart } : {}),
    ...(Object.keys(health).length > 0 ? { health } : {}),
    ...(f.stopSignal !== undefined ? { stopSignal: parseSignal(f.stopSignal) } : {}),
    ...(f.stopTimeout !== undefined ? { stopTimeout: parseStopTimeout(f.stopTimeout) } : {}),
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(f.ulimit?.length ? { ulimits: f.ulimit.map(parseUlimit) } : {}),
    ...(f.init ? { init: true } : {}),
    ...(f.device?.length ? { devices: f.device.map((d) => parseDevice(d, kind)) } : {}),
    ...parseLogOpts(f.logOpt ?? []),
  };
}

export function toRunRequest(image: string, command: string[], f: RunFlags & { rm?: boolean }): RunRequest {
  if (!(KINDS as readonly string[]).includes(f.as)) throw invalid(`unknown isolation kind "${f.as}"`, `use --as ${KINDS.join('|')}`);
  if (f.network === '' || f.network === 'host') throw invalid(`--network ${f.network || '""'} is not available`, 'use --network bridge, none, or a network made with isola network create');
  if (f.privileged && f.as === 'vm') throw invalid('--privileged means nothing for --as vm: a VM has its own kernel and no host capabilities to grant', 'drop --privileged, or use --as container|hybrid');
  let seccomp = 'default';
  let noNewPrivileges = true;
  for (const o of f.securityOpt) {
    const [k, v] = o.split(/[=:](.*)/s);
    if (k === 'seccomp' && v) seccomp = v === 'unconfined' ? 'unconfined' : v;
    else if (k === 'no-new-privileges') {
      if (v !== undefined && v !== 'true' && v !== 'false') throw invalid(`invalid --security-opt "${o}"`, 'use no-new-privileges=true or no-new-privileges=false');
      noNewPrivileges = v !== 'false';
    } else throw invalid(`unknown --security-opt "${o}"`, 'use seccomp=PATH, seccomp=unconfined or no-new-privileges=false');
  }
  if (f.detachKeys !== undefined) parseDetachKeys(f.detachKeys); // refused before anything is made
  let pidsLimit: number | undefined;
  if (f.pidsLimit !== undefined) {
    pidsLimit = Number(f.pidsLimit);
    if (!Number.isInteger(pidsLimit) || pidsLimit <= 0) throw invalid(`invalid --pids-limit "${f.pidsLimit}"`, 'use a whole number greater than zero');
  }
  const cwd = process.cwd();
  const mounts = [
    ...(f.volume ?? []).map((v) => parseVolumeFlag(v, cwd)),
    ...(f.mount ?? []).map((m) => parseMountFlag(m, cwd)),
    ...(f.tmpfs ?? []).map((t) => parseTmpfsFlag(t)),
  ];
  // A container in a machine is a container inside a VM: the hybrid kind, placed.
  if (f.machine !== undefined && f.as === 'container') f.as = 'hybrid';
  const life = lifecycleRequest(f, f.as as Kind);
  return {
    ...(f.machine !== undefined ? { machine: f.machine } : {}),
    image,
    command,
    kind: f.as as Kind,
    ...(f.name !== undefined ? { name: f.name } : {}),
    env: [...readEnvFiles(f.envFile ?? []), ...f.env],
    ...(f.workdir ? { workdir: f.workdir } : {}),
    ...(f.user ? { user: f.user } : {}),
    ...(f.hostname ? { hostname: f.hostname } : {}),
    ...(f.memory !== undefined ? { memoryBytes: parseBytes(f.memory, '--memory') } : {}),
    ...(f.cpus !== undefined ? { cpus: parseCpus(f.cpus) } : {}),
    ...(pidsLimit ? { pidsLimit } : {}),
    ...(f.entrypoint !== undefined ? { entrypoint: f.entrypoint } : {}),
    readOnly: !!f.readOnly,
    network: f.network,
    publish: f.publish.flatMap(parsePublish),
    ...(f.publishAll ? { publishAll: true } : {}),
    ...(f.addHost.length ? { extraHosts: f.addHost.map(parseAddHost) } : {}),
    ...(f.dns.length || f.dnsSearch.length || f.dnsOption.length
      ? { dns: { servers: f.dns.map(checkDnsServer), search: f.dnsSearch.map(checkDnsSearch), options: f.dnsOption.map(checkDnsOption) } }
      : {}),
    detach: !!f.detach,
    autoRemove: !!f.rm,
    ...(f.runtime ? { runtime: f.runtime } : {}),
    ...(f.kernel ? { kernel: f.kernel } : {}),
    ...(f.initrd ? { initrd: f.initrd } : {}),
    privileged: !!f.privileged,
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    seccomp,
    noNewPrivileges,
    ...(mounts.length > 0 ? { mounts } : {}),
    ...(f.tty ? { tty: true } : {}),
    ...(f.interactive ? { interactive: true } : {}),
    ...life,
  };
}

export function register(program: Command, ctx: CliContext): void {
  const run = program
    .command('run')
    .description('create and start an instance of IMAGE, then stream its output (exit status is the workload\'s)')
    .argument('[image]', 'image reference, e.g. base or myimage:1 (none with --disk)')
    .argument('[command...]', 'command to run instead of the image\'s Cmd')
    .option('-d, --detach', 'run in the background and print the instance id')
    .option('--rm', 'remove the instance when it exits')
    .passThroughOptions();
  addRunFlags(run).action(async (image: string | undefined, command: string[], flags: RunFlags) => {
    let detach = !!flags.detach;
    // In the foreground, -i/-t attach isola's own stdin and terminal (checked before anything is made).
    const client = !flags.detach && (flags.tty || flags.interactive)
      ? openClient({ interactive: !!flags.interactive, tty: !!flags.tty, detachKeys: flags.detachKeys ?? DEFAULT_DETACH_KEYS, detachable: true })
      : undefined;
    let result;
    try {
      result = await withEngine(ctx, async (e) => {
        const t = await target(e, run, image, command, flags);
        const req = toRunRequest(t.image, t.command, t.flags);
        detach = req.detach;
        return e.run(req, process.stdout, process.stderr, client);
      });
    } finally {
      client?.close();
    }
    if (detach) process.stdout.write(`${result.rec.id}\n`);
    else if (!result.detached) throw new ExitWith(result.exitCode ?? 0);
  });

  const create = program
    .command('create')
    .description('create an instance of IMAGE without starting it (start it with isola start)')
    .argument('[image]')
    .argument('[command...]')
    .passThroughOptions();
  addRunFlags(create).action(async (image: string | undefined, command: string[], flags: RunFlags) => {
    const rec = await withEngine(ctx, async (e) => {
      const t = await target(e, create, image, command, flags);
      return e.create(toRunRequest(t.image, t.command, { ...t.flags, detach: true }));
    });
    process.stdout.write(`${rec.id}\n`);
  });

  program
    .command('start')
    .description('start instances: created ones, or exited ones again (same root file system or disk, as Docker does)')
    .argument('<instance...>')
    .action(async (refs: string[]) => {
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          await e.startInstance(ref);
          process.stdout.write(`${ref}\n`);
        }
      });
    });
}
