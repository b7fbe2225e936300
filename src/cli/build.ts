import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { invalid, notFound } from '../core/errors.js';
import { parseEpoch } from '../core/config.js';
import { pathsFor } from '../core/paths.js';
import { ImageStore } from '../image/store.js';
import type { UnpackLimits } from '../image/unpack.js';

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  target?: string;
  cache: boolean;
  quiet?: boolean;
  network: string;
}

/** Scratch folders of builds whose process is gone (a crash, a kill -9). */
/**
 * The context: a folder, or `-`: standard input holding a tar archive (plain or gzip) of the
 * context, or a Dockerfile alone (an empty context), as `docker build -` reads it.
 */
async function prepareContext(arg: string, scratch: string, limits: UnpackLimits): Promise<{ dir: string; stdinDockerfile?: string }> {
  if (arg !== '-') {
    if (!fs.existsSync(arg) || !fs.statSync(arg).isDirectory()) throw notFound(`build context "${arg}" is not a folder`, 'give the folder holding the Dockerfile and the files it copies, or - for a tar archive on standard input');
    return { dir: path.resolve(arg) };
  }
  if (process.stdin.isTTY) throw invalid('the build context is - (standard input), but standard input is a terminal', 'pipe a tar archive of the context, or a Dockerfile, into isola build -');
  const file = path.join(scratch, 'stdin');
  await new Promise<void>((resolve, reject) => {
    const out = fs.createWriteStream(file);
    process.stdin.pipe(out);
    out.on('finish', resolve);
    out.on('error', reject);
    process.stdin.on('error', reject);
  });
  const head = Buffer.alloc(512);
  const fd = fs.openSync(file, 'r');
  const n = fs.readSync(fd, head, 0, 512, 0);
  fs.closeSync(fd);
  const dir = path.join(scratch, 'context');
  fs.mkdirSync(dir);
  const isTar = (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) || (n >= 262 && head.toString('latin1', 257, 262) === 'ustar');
  if (!isTar) return { dir, stdinDockerfile: file };
  // The same unpacker as image layers: a context archive cannot write outside its folder.
  const { unpackLayers } = await import('../image/unpack.js');
  await unpackLayers([file], dir, limits);
  return { dir };
}

function parseBuildArgs(list: string[], env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of list) {
    const i = a.indexOf('=');
    const key = i < 0 ? a : a.slice(0, i);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw invalid(`invalid --build-arg "${a}"`, 'write --build-arg NAME=VALUE (or NAME alone to pass isola\'s own value)');
    const value = i < 0 ? env[key] : a.slice(i + 1);
    // Docker's rule: NAME alone with no such variable in the environment sets nothing.
    if (value !== undefined) out.set(key, value);
  }
  return out;
}

/** Buildah's output: STEP lines, `--> Using cache ID`, `--> ID`, the run output between. */
function reporter(quiet: boolean) {
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const print = (line: string) => void (quiet ? undefined : process.stdout.write(`${line}\n`));
  let prefix = '';
  return {
    stage(n: number, count: number) {
      prefix = count > 1 ? `[${n}/${count}] ` : '';
    },
    step(n: number, total: number, text: string) {
      print(`${prefix}STEP ${n}/${total}: ${text}`);
    },
    cached(s: { digest: string }) {
      print(`--> Using cache ${s.digest.slice(7)}`);
    },
    done(s: { digest: string }) {
      print(`--> ${s.digest.slice(7, 19)}`);
    },
    out: quiet ? sink : process.stdout,
    err: quiet ? sink : process.stderr,
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('build')
    .description('build an image from a Dockerfile (or Containerfile): RUN steps run in containers, every step is cached')
    .argument('<context>', 'the build context folder, or - for a tar archive of it (or a lone Dockerfile) on standard input')
    .option('-t, --tag <name>', 'name the image NAME[:TAG] (repeatable)', collect, [])
    .option('-f, --file <file>', 'the Dockerfile (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile)')
    .option('--build-arg <name=value>', 'set a build argument (repeatable; NAME alone passes isola\'s own environment value)', collect, [])
    .option('--target <stage>', 'build the stage of this name (and what it needs), not the last one')
    .option('--no-cache', 'do every step again instead of using the build cache')
    .option('--network <mode>', 'network of RUN steps: none, or bridge (isola0, with NAT to the host\'s networks)', 'none')
    .option('-q, --quiet', 'print only the image digest')
    .action(async (contextArg: string, o: BuildFlags) => {
      if (o.network !== 'none' && o.network !== 'bridge') throw invalid(`unknown --network "${o.network}"`, 'use none or bridge');
      const buildArgs = parseBuildArgs(o.buildArg, ctx.config.env);
      const epoch = buildArgs.has('SOURCE_DATE_EPOCH') ? parseEpoch('--build-arg SOURCE_DATE_EPOCH', buildArgs.get('SOURCE_DATE_EPOCH')) : ctx.config.sourceDateEpoch;
      const paths = pathsFor(ctx.config.root);
      // Named after this process: what a killed build leaves, system prune removes.
      const scratch = path.join(paths.tmp, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
      fs.mkdirSync(scratch, { recursive: true });
      try {
        const context = await prepareContext(contextArg, scratch, ctx.config.unpack);
        const dockerfile = o.file !== undefined
          ? (contextArg === '-' && !path.isAbsolute(o.file) ? path.join(context.dir, o.file) : path.resolve(o.file))
          : context.stdinDockerfile ?? [path.join(context.dir, 'Dockerfile'), path.join(context.dir, 'Containerfile')].find((f) => fs.existsSync(f)) ?? path.join(context.dir, 'Dockerfile');
        const dockerfileName = o.file ?? (context.stdinDockerfile ? 'Dockerfile (standard input)' : path.relative(process.cwd(), dockerfile) || dockerfile);
        const [{ buildImage }, { engineStepRunner }] = await Promise.all([import('../image/build/build.js'), import('../engine/build-runner.js')]);
        const r = await withEngine(ctx, async (engine) => buildImage(engine.images(), {
          contextDir: context.dir, dockerfile, dockerfileName, tags: o.tag, buildArgs, noCache: !o.cache, network: o.network as 'none' | 'bridge',
          scratch, unpack: ctx.config.unpack,
          ...(o.target !== undefined ? { target: o.target } : {}), ...(epoch !== undefined ? { epoch } : {}),
          pull: async (ref) => {
            const [{ pullImage }, { HOST_PLATFORM }, { which }] = await Promise.all([import('../image/registry/pull.js'), import('../image/platform.js'), import('../util/which.js')]);
            if (!o.quiet) process.stdout.write(`Pulling ${ref}\n`);
            await pullImage(engine.images(), ref, { credentialsFile: ctx.config.credentialsFile, platform: HOST_PLATFORM, haveZstd: which('zstd', ctx.config.searchPath) !== null });
          },
        }, engineStepRunner(engine), reporter(Boolean(o.quiet))));
        if (r.unusedBuildArgs.length > 0) process.stderr.write(`[Warning] one or more build arguments were not consumed: ${r.unusedBuildArgs.join(', ')}\n`);
        if (!o.quiet) {
          if (r.tags.length > 0) process.stdout.write(`COMMIT ${r.tags.join(', ')}\n`);
          for (const t of r.tags) process.stdout.write(`Successfully tagged ${t}\n`);
          if (r.tags.length === 0) process.stderr.write('note: no -t given: the image is kept in the build cache only; build again with -t NAME to name it\n');
        }
        process.stdout.write(`${r.digest}\n`);
      } finally {
        fs.rmSync(scratch, { recursive: true, force: true });
      }
    });

  program
    .command('builder')
    .description('manage the build cache (prune)')
    .command('prune')
    .description('remove every cached build step; blobs no image needs are deleted')
    .action(async () => {
      const { BUILD_CACHE_REPO, isBuildCacheRef } = await import('../image/build/cache.js');
      const store = new ImageStore(pathsFor(ctx.config.root).images);
      const refs = store.list().map((i) => i.ref).filter(isBuildCacheRef);
      for (const ref of refs) await store.remove(ref);
      process.stdout.write(`Deleted ${refs.length} cached step(s) (${BUILD_CACHE_REPO})\n`);
    });
}
