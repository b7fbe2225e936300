import fs from 'node:fs';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { resolvedFile } from '../compose/resolved.js';
import { collect, printJson, withEngine, type CliContext } from './context.js';
import { renderTable } from './table.js';
import { ExitWith } from './exit-codes.js';
import { psJson, statusText } from './ps.js';
import { mappingText, type PortMapping } from '../net/publish.js';
import { frontPorts, runningTargets, syncFront } from '../compose/front.js';
import type { InstanceRecord } from '../state/instances.js';
import { invalid } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { loadStack, type StackOptions } from '../compose/stack.js';
import type { ServiceModel, StackModel } from '../compose/model.js';
import { buildScratch, down, ensureImages, numberOf, selectInstances, serviceOf, stackInstances, stopReplica, up, waitFor, type ImageHooks } from '../compose/apply.js';
import { parseScale } from '../compose/plan.js';
import { prefixedLogs } from '../compose/logs.js';
import { formatBytes } from '../core/units.js';
import { parseParallelism, registerRollout } from './compose-rollout.js';
import { recoverIfIdle, recoverRollouts, rolloutInProgress, withRolloutLock } from '../compose/recover.js';

interface Globals {
  file?: string;
  projectName?: string;
  profile: string[];
}

/** `isola compose …`: stacks from a Compose file, Docker Compose's verbs and flags (docs/COMPOSE.md). */
export function register(program: Command, ctx: CliContext): void {
  const compose = program
    .command('compose')
    .description('run a stack of services from a Compose file: each service a container, a VM or hybrid (x-isola-kind)')
    .option('-f, --file <file>', 'the Compose file (default: compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml here)')
    .option('-p, --project-name <name>', 'the project name (default: $COMPOSE_PROJECT_NAME, else the file\'s name:, else the folder\'s name)')
    .option('--profile <name>', 'enable the services of this profile (repeatable; also $COMPOSE_PROFILES)', collect, [])
    .enablePositionalOptions();

  const stackOf = (cmd: Command): StackModel => {
    const g = (cmd.parent?.opts() ?? {}) as Globals;
    const o: StackOptions = { profiles: g.profile ?? [], cwd: process.cwd(), env: ctx.config.env };
    if (g.file !== undefined) o.file = g.file;
    if (g.projectName !== undefined) o.project = g.projectName;
    return loadStack(o);
  };

  compose
    .command('up')
    .description('create and start the stack: only what changed since the last up is recreated')
    .option('-d, --detach', 'return once the stack is up (default: print its output until Ctrl-C, which stops it)')
    .option('--scale <service=n>', 'run N replicas of SERVICE, over deploy.replicas (repeatable)', collect, [])
    .option('--no-start', 'create what is missing, start nothing')
    .option('--build', 'build the images of services with build: first, even when present')
    .option('--remove-orphans', 'remove instances of services the file no longer has')
    .option('--wait', 'with -d: return once every service is running, and healthy where it has a healthcheck')
    .option('--wait-timeout <seconds>', 'how long to wait for a dependency\'s condition (and --wait, and a new replica of a rolling update)', '600')
    .option('--parallelism <n>', 'a changed service\'s running replicas are replaced N at a time (rolling update)', '1')
    .action(async (o: { detach?: boolean; scale: string[]; start: boolean; build?: boolean; removeOrphans?: boolean; wait?: boolean; waitTimeout: string; parallelism: string }, cmd: Command) => {
      const model = stackOf(cmd);
      const parallelism = parseParallelism(o.parallelism);
      const scale = parseScale(o.scale, model);
      const wait = Number(o.waitTimeout);
      if (!Number.isFinite(wait) || wait <= 0) throw invalid(`invalid --wait-timeout "${o.waitTimeout}"`, 'give seconds, e.g. --wait-timeout 120');
      await withEngine(ctx, async (e) => {
        const digests = await ensureImages(e, model, imageHooks(ctx, e), { build: !!o.build, out: process.stdout });
        // One rollout per stack at a time; what a killed one left is finished or undone first.
        const recs = await withRolloutLock(e, model.project, async () => {
          await recoverRollouts(e, model.project, process.stdout);
          return up(e, model, digests, { scale, noStart: !o.start, removeOrphans: !!o.removeOrphans, out: process.stdout, waitMs: wait * 1000, parallelism });
        });
        if (o.wait && o.start) {
          for (const s of model.services) {
            const healthy = recs.some((r) => serviceOf(r) === s.name && r.spec.health);
            await waitFor(e, model.project, s.name, healthy ? 'service_healthy' : 'service_started', wait * 1000, process.stdout);
          }
        }
        if (o.detach || o.wait || !o.start) return;
        // Attached: every replica's output until each exits, or Ctrl-C, which stops the stack (as Compose does).
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await prefixedLogs(e, recs, { follow: true, tail: Infinity, signal: ac.signal, write: (s, t) => (s === 'stderr' ? process.stderr : process.stdout).write(t) });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
        if (ac.signal.aborted) {
          process.stdout.write('Gracefully stopping...\n');
          for (const r of stackInstances(e, model.project)) if (r.state === 'running') await e.stop(r.id);
        }
      });
    });

  compose
    .command('down')
    .description('stop and remove the stack\'s instances and networks')
    .option('-v, --volumes', 'also remove the named volumes the file declares and the instances\' anonymous volumes')
    .action(async (o: { volumes?: boolean }, cmd: Command) => {
      const model = stackOf(cmd);
      await withEngine(ctx, async (e) => {
        // A rollout running meanwhile would start new replicas after down removed the old ones
        // (and leave them): down waits for it under the same lock, and says why it waits.
        if (rolloutInProgress(e, model.project)) process.stderr.write(`waiting for the rollout of stack ${model.project} in progress to finish\n`);
        await withRolloutLock(e, model.project, () => down(e, model, { volumes: !!o.volumes, out: process.stdout }));
      });
    });

  compose
    .command('ps')
    .description('list the stack\'s instances')
    .option('-a, --all', 'also stopped ones')
    .option('-q, --quiet', 'only ids')
    .option('--services', 'only the services\' names')
    .option('--json', 'print JSON (one object per instance, with service and replica)')
    .argument('[service...]')
    .action(async (services: string[], o: { all?: boolean; quiet?: boolean; services?: boolean; json?: boolean }, cmd: Command) => {
      const model = stackOf(cmd);
      const recs = await withEngine(ctx, async (e) => {
        await e.reconcile();
        await recoverIfIdle(e, model.project, process.stderr, model);
        return selectInstances(e, model, services).filter((r) => o.all || r.state === 'running');
      });
      // A running replica also shows its service's fixed ports, which reach it (front.ts).
      const portsOf = (r: InstanceRecord): PortMapping[] => {
        const svc = model.services.find((s) => s.name === serviceOf(r));
        return [...(svc && r.state === 'running' ? frontPorts(svc) : []), ...r.ports];
      };
      if (o.json) return printJson(recs.map((r) => ({ ...psJson(r), ports: portsOf(r).map(mappingText), project: model.project, service: serviceOf(r), replica: numberOf(r) })));
      if (o.services) return void process.stdout.write([...new Set(recs.map(serviceOf))].map((s) => `${s}\n`).join(''));
      if (o.quiet) return void process.stdout.write(recs.map((r) => `${r.id}\n`).join(''));
      process.stdout.write(renderTable(['NAME', 'SERVICE', 'KIND', 'IMAGE', 'STATUS', 'PORTS'],
        recs.map((r) => [r.name, serviceOf(r), r.kind, r.imageRef, statusText(r), portsOf(r).map(mappingText).join(', ')])));
    });

  compose
    .command('logs')
    .description('print the replicas\' output, each line prefixed with its replica (web-1 | ...)')
    .option('-f, --follow', 'keep printing new output until the replicas exit (Ctrl-C ends it)')
    .option('-n, --tail <lines>', 'lines to show from the end of each replica\'s output', 'all')
    .argument('[service...]')
    .action(async (services: string[], o: { follow?: boolean; tail: string }, cmd: Command) => {
      const model = stackOf(cmd);
      if (o.tail !== 'all' && !/^\d+$/.test(o.tail)) throw invalid(`invalid --tail "${o.tail}"`, 'give a number of lines, or all');
      await withEngine(ctx, async (e) => {
        await e.reconcile();
        const recs = selectInstances(e, model, services);
        const ac = new AbortController();
        const stop = () => ac.abort();
        process.once('SIGINT', stop);
        try {
          await prefixedLogs(e, recs, { follow: !!o.follow, tail: o.tail === 'all' ? Infinity : Number(o.tail), signal: ac.signal, write: (s, t) => (s === 'stderr' ? process.stderr : process.stdout).write(t) });
        } finally {
          process.off('SIGINT', stop);
        }
      });
    });

  compose
    .command('exec')
    .description('run a command in a running replica of a service; exits with the command\'s status')
    .option('--index <n>', 'which replica (default 1)', '1')
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'working directory')
    .option('-u, --user <user[:group]>', 'user to run as')
    .option('-T, --no-tty', 'accepted for Compose\'s scripts: isola compose exec never allocates a terminal')
    .argument('<service>')
    .argument('<command...>')
    .passThroughOptions()
    .action(async (service: string, argv: string[], o: { index: string; env: string[]; workdir?: string; user?: string }, cmd: Command) => {
      const model = stackOf(cmd);
      const code = await withEngine(ctx, async (e) => {
        await e.reconcile();
        const recs = selectInstances(e, model, [service]);
        const rec = recs.find((r) => String(numberOf(r)) === o.index);
        if (!rec) throw invalid(`service ${service} has no replica ${o.index}`, recs.length ? `give --index one of ${recs.map(numberOf).join(', ')}` : 'start it first with isola compose up -d');
        return e.exec(rec.id, argv, { env: o.env, ...(o.workdir ? { workdir: o.workdir } : {}), ...(o.user ? { user: o.user } : {}), stdin: null, stdout: process.stdout, stderr: process.stderr });
      });
      throw new ExitWith(code);
    });

  for (const verb of ['stop', 'start', 'restart'] as const) {
    compose
      .command(verb)
      .description(`${verb} the replicas of the services named (default: all)`)
      .option('-t, --timeout <seconds>', 'seconds to wait for a stop before SIGKILL (stop, restart)')
      .argument('[service...]')
      .action(async (services: string[], o: { timeout?: string }, cmd: Command) => {
        const model = stackOf(cmd);
        const t = o.timeout !== undefined ? Number(o.timeout) : undefined;
        if (t !== undefined && (!Number.isInteger(t) || t < 0)) throw invalid(`invalid --timeout "${o.timeout}"`, 'give whole seconds');
        await withEngine(ctx, async (e) => {
          await e.reconcile();
          const recs = selectInstances(e, model, services);
          // Start in dependency order, stop in reverse, as Compose does.
          const order = model.services.map((s) => s.name);
          const sorted = [...recs].sort((a, b) => order.indexOf(serviceOf(a)) - order.indexOf(serviceOf(b)));
          // restart: every replica stopped (dependents first), then every one started (dependencies first).
          if (verb !== 'start') {
            for (const r of [...sorted].reverse()) {
              await stopReplica(e, r.id, t);
              if (verb === 'stop') process.stdout.write(`Instance ${r.name} Stopped\n`);
            }
          }
          if (verb !== 'stop') {
            for (const r of sorted) {
              await e.startInstance(r.id);
              process.stdout.write(`Instance ${r.name} ${verb === 'start' ? 'Started' : 'Restarted'}\n`);
            }
          }
          // The services' fixed ports follow their running replicas (none: the port is closed).
          for (const s of model.services.filter((x) => frontPorts(x).length > 0 && sorted.some((r) => serviceOf(r) === x.name))) {
            await syncFront(e, model.project, s, runningTargets(e, model.project, s.name));
          }
        });
      });
  }

  compose
    .command('config')
    .description('print the file as isola resolves it: variables interpolated, defaults filled in, validated')
    .option('-q, --quiet', 'only validate: print nothing, exit 0 when the file is good')
    .option('--services', 'only the services\' names')
    .action((o: { quiet?: boolean; services?: boolean }, cmd: Command) => {
      const model = stackOf(cmd);
      if (o.quiet) return;
      if (o.services) return void process.stdout.write(model.services.map((s) => `${s.name}\n`).join(''));
      process.stdout.write(stringify(resolvedFile(model)));
    });

  compose
    .command('pull')
    .description('pull the images of the services from their registries (services with build: are built instead, base is built in)')
    .argument('[service...]')
    .action(async (services: string[], _o: unknown, cmd: Command) => {
      const model = stackOf(cmd);
      const chosen = pickServices(model, services);
      await withEngine(ctx, async (e) => {
        const hooks = imageHooks(ctx, e);
        for (const s of chosen) {
          if (s.build && !s.image.includes('/')) {
            process.stdout.write(`${s.name}: built from ${s.build.context}, not pulled (isola compose build)\n`);
            continue;
          }
          if (s.image === 'base' || s.image === 'base:latest') {
            process.stdout.write(`${s.name}: base is built into isola, nothing to pull\n`);
            continue;
          }
          process.stdout.write(`Pulling ${s.name} (${s.image})\n`);
          await hooks.pull(s.image);
        }
      });
    });

  compose
    .command('build')
    .description('build the images of the services with build: (tagged as their image:, else <project>-<service>)')
    .argument('[service...]')
    .action(async (services: string[], _o: unknown, cmd: Command) => {
      const model = stackOf(cmd);
      const chosen = pickServices(model, services).filter((s) => s.build);
      if (chosen.length === 0) process.stdout.write('no service to build (none has build:)\n');
      await withEngine(ctx, async (e) => {
        const hooks = imageHooks(ctx, e);
        for (const s of chosen) {
          process.stdout.write(`Building ${s.name} (${s.image})\n`);
          await hooks.build(s);
        }
      });
    });

  compose
    .command('images')
    .description('list the images the stack\'s instances run')
    .option('--json', 'print JSON')
    .argument('[service...]')
    .action(async (services: string[], o: { json?: boolean }, cmd: Command) => {
      const model = stackOf(cmd);
      const rows = await withEngine(ctx, async (e) => {
        await e.reconcile();
        const stored = e.images().list();
        return selectInstances(e, model, services).map((r) => {
          const img = stored.find((i) => i.digest === r.imageDigest);
          return { instance: r.name, service: serviceOf(r), image: r.imageRef, digest: r.imageDigest, size: img?.size ?? null };
        });
      });
      if (o.json) return printJson(rows);
      process.stdout.write(renderTable(['INSTANCE', 'SERVICE', 'IMAGE', 'IMAGE ID', 'SIZE'],
        rows.map((r) => [r.instance, r.service, r.image, r.digest.replace('sha256:', '').slice(0, 12), r.size === null ? '-' : formatBytes(r.size)])));
    });

  registerRollout(compose, ctx, stackOf);
}

function pickServices(model: StackModel, names: readonly string[]): ServiceModel[] {
  for (const n of names) if (!model.services.some((s) => s.name === n)) throw invalid(`no such service "${n}" in ${model.file}`, `name one of: ${model.services.map((s) => s.name).join(', ')}`);
  return model.services.filter((s) => names.length === 0 || names.includes(s.name));
}

/** Builds with the Dockerfile builder (RUN steps as containers), pulls with the registry client. */
function imageHooks(ctx: CliContext, engine: Engine): ImageHooks {
  const pull = async (ref: string) => {
    const [{ pullImage }, { HOST_PLATFORM }, { which }] = await Promise.all([import('../image/registry/pull.js'), import('../image/platform.js'), import('../util/which.js')]);
    await pullImage(engine.images(), ref, { credentialsFile: ctx.config.credentialsFile, platform: HOST_PLATFORM, haveZstd: which('zstd', ctx.config.searchPath) !== null });
  };
  return {
    pull,
    async build(s: ServiceModel) {
      const b = s.build;
      if (!b) return;
      const [{ buildImage }, { engineStepRunner }] = await Promise.all([import('../image/build/build.js'), import('../engine/build-runner.js')]);
      const dockerfile = b.dockerfile ?? [`${b.context}/Dockerfile`, `${b.context}/Containerfile`].find((f) => fs.existsSync(f)) ?? `${b.context}/Dockerfile`;
      const scratch = buildScratch(engine);
      try {
        await buildImage(engine.images(), {
          contextDir: b.context, dockerfile, dockerfileName: dockerfile, tags: [s.image], buildArgs: new Map(Object.entries(b.args)), noCache: false, network: 'none',
          scratch, unpack: ctx.config.unpack, ...(b.target ? { target: b.target } : {}), ...(ctx.config.sourceDateEpoch !== undefined ? { epoch: ctx.config.sourceDateEpoch } : {}), pull,
        }, engineStepRunner(engine), {
          stage: () => undefined,
          step: (n, total, text) => void process.stdout.write(`${s.name}: STEP ${n}/${total}: ${text}\n`),
          cached: () => undefined,
          done: () => undefined,
          out: process.stdout,
          err: process.stderr,
        });
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
}

