import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { ExitWith } from './exit-codes.js';
import { parseBytes, parseCpus } from '../core/units.js';
import { invalid } from '../core/errors.js';
import { KINDS, type Kind } from '../core/types.js';
import type { RunRequest } from '../engine/request.js';
import { parsePublish } from '../net/publish.js';
import { checkDnsOption, checkDnsSearch, checkDnsServer, parseAddHost } from '../net/etc-files.js';

interface RunFlags {
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
  publishAll?: boolean;
  addHost: string[];
  dns: string[];
  dnsSearch: string[];
  dnsOption: string[];
}

/** The flags `run` and `create` share, in Docker's spelling. */
export function addRunFlags(cmd: Command): Command {
  return cmd
    .option('--as <kind>', `isolation kind: ${KINDS.join(', ')}`, 'container')
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
    .option('--security-opt <opt>', 'seccomp=PATH|unconfined, no-new-privileges[=true|false] (repeatable)', collect, []);
}

export function toRunRequest(image: string, command: string[], f: RunFlags): RunRequest {
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
  let pidsLimit: number | undefined;
  if (f.pidsLimit !== undefined) {
    pidsLimit = Number(f.pidsLimit);
    if (!Number.isInteger(pidsLimit) || pidsLimit <= 0) throw invalid(`invalid --pids-limit "${f.pidsLimit}"`, 'use a whole number greater than zero');
  }
  return {
    image,
    command,
    kind: f.as as Kind,
    ...(f.name !== undefined ? { name: f.name } : {}),
    env: f.env,
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
  };
}

export function register(program: Command, ctx: CliContext): void {
  const run = program
    .command('run')
    .description('create and start an instance of IMAGE, then stream its output (exit status is the workload\'s)')
    .argument('<image>', 'image reference, e.g. base or myimage:1')
    .argument('[command...]', 'command to run instead of the image\'s Cmd')
    .option('-d, --detach', 'run in the background and print the instance id')
    .option('--rm', 'remove the instance when it exits')
    .passThroughOptions();
  addRunFlags(run).action(async (image: string, command: string[], flags: RunFlags) => {
    const req = toRunRequest(image, command, flags);
    const result = await withEngine(ctx, (e) => e.run(req, process.stdout, process.stderr));
    if (req.detach) process.stdout.write(`${result.rec.id}\n`);
    else throw new ExitWith(result.exitCode ?? 0);
  });

  const create = program
    .command('create')
    .description('create an instance of IMAGE without starting it (start it with isola start)')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions();
  addRunFlags(create).action(async (image: string, command: string[], flags: RunFlags) => {
    const req = toRunRequest(image, command, { ...flags, detach: true });
    const rec = await withEngine(ctx, (e) => e.create(req));
    process.stdout.write(`${rec.id}\n`);
  });

  program
    .command('start')
    .description('start created instances')
    .argument('<instance...>')
    .action(async (refs: string[]) => {
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          const rec = e.find(ref);
          if (rec.state !== 'created') throw invalid(`instance ${rec.name} is ${rec.state}, not created`, 'isola start starts created instances; use isola run for a new one');
          await e.start(rec);
          process.stdout.write(`${ref}\n`);
        }
      });
    });
}
