import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Router, Call } from './router.js';
import { ApiError, badRequest, toResponse } from './errors.js';
import { localName } from './images.js';
import { parseReference } from '../image/ref.js';
import { HOST_PLATFORM, parsePlatform } from '../image/platform.js';
import { which } from '../util/which.js';

/**
 * POST /build: Docker's classic builder API over isola's builder (BUILD.md). The body is the
 * context as a tar (plain or gzip), unpacked by the same unpacker as image layers; the answer is
 * Docker's JSON message stream (`stream` lines, `aux.ID`, `error`). BuildKit sessions
 * (`version=2`) are not served: the docker CLI then uses the classic protocol.
 */

/** A context archive larger than this is refused (413) while it streams in. */
export const CONTEXT_LIMIT = 2 * 1024 ** 3;

/** Query parameters a client may send with their default values, which isola cannot honour otherwise. */
const MUST_BE_DEFAULT: [string, string[]][] = [
  ['remote', ['']], ['cachefrom', ['', '[]', 'null']], ['extrahosts', ['']], ['squash', ['', '0', 'false']], ['labels', ['', '{}', 'null']],
  ['outputs', ['', '[]']], ['isolation', ['', 'default']], ['cpusetcpus', ['']], ['cpuquota', ['', '0']], ['cpushares', ['', '0']],
  ['memory', ['', '0']], ['memswap', ['', '0']], ['shmsize', ['', '0']], ['ulimits', ['', 'null', '[]']], ['session', ['']],
];

function jsonMap(text: string | undefined, name: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw badRequest(`invalid ${name}: not JSON`);
  }
  if (v === null) return out;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`invalid ${name}: not a JSON object`);
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw badRequest(`invalid ${name} key "${k.slice(0, 40)}"`);
    // Docker's rule: a null value means "take it from the daemon's environment"; isola's server passes nothing then.
    if (val === null) continue;
    if (typeof val !== 'string') throw badRequest(`invalid ${name} value for ${k}: not a string`);
    out.set(k, val);
  }
  return out;
}

async function build(c: Call): Promise<void> {
  const q = c.query;
  if (q.str('version') === '2') throw badRequest('BuildKit (version=2) is not served: isola builds with its own builder; use the classic protocol (DOCKER_BUILDKIT=0)');
  for (const [name, ok] of MUST_BE_DEFAULT) {
    const v = q.str(name);
    if (v !== undefined && !ok.includes(v)) throw badRequest(`build parameter ${name} is not supported by isola serve`);
  }
  const tags = q.all('t').map((t) => {
    parseReference(localName(t));
    return localName(t);
  });
  const file = q.str('dockerfile') ?? 'Dockerfile';
  if (path.isAbsolute(file) || file.split(/[\\/]/).includes('..') || file.includes('\0')) throw badRequest(`invalid dockerfile "${file.slice(0, 100)}": give a path inside the context`);
  const network = q.str('networkmode') ?? 'default';
  if (!['default', 'bridge', 'none'].includes(network)) throw badRequest(`networkmode ${network.slice(0, 40)} is not supported: use none or bridge`);
  const platform = q.str('platform');
  if (platform) {
    const p = parsePlatform(platform);
    if (p.os !== HOST_PLATFORM.os || p.architecture !== HOST_PLATFORM.architecture) throw badRequest(`isola builds for ${HOST_PLATFORM.os}/${HOST_PLATFORM.architecture} only, not ${platform}`);
  }
  const buildArgs = jsonMap(q.str('buildargs'), 'buildargs');
  const quiet = q.bool('q');
  const target = q.str('target');

  const e = c.api.engine;
  const scratch = path.join(e.paths.tmp, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  let started = false;
  const line = (o: unknown): void => {
    if (!started) {
      c.res.writeHead(200, { 'Content-Type': 'application/json' });
      started = true;
    }
    c.res.write(`${JSON.stringify(o)}\n`);
  };
  const say = (text: string): void => (quiet ? undefined : line({ stream: text }));
  try {
    // The context to a file first (bounded), then through the layer unpacker (no path leaves the folder).
    const archive = path.join(scratch, 'context.tar');
    let size = 0;
    await pipeline(c.req, async function* (src: AsyncIterable<Buffer>) {
      for await (const chunk of src) {
        size += chunk.length;
        if (size > CONTEXT_LIMIT) throw new ApiError(413, `the build context is over ${CONTEXT_LIMIT} bytes`);
        yield chunk;
      }
    }, fs.createWriteStream(archive));
    const dir = path.join(scratch, 'context');
    fs.mkdirSync(dir);
    if (size > 0) {
      const { unpackLayers } = await import('../image/unpack.js');
      await unpackLayers([archive], dir, e.config.unpack);
    }
    fs.rmSync(archive);
    const [{ buildImage }, { engineStepRunner }] = await Promise.all([import('../image/build/build.js'), import('../engine/build-runner.js')]);
    const sink = (): Writable => new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        say(chunk.toString('utf8'));
        cb();
      },
    });
    let prefix = '';
    const r = await buildImage(e.images(), {
      contextDir: dir, dockerfile: path.join(dir, file), dockerfileName: file, tags, buildArgs, noCache: q.bool('nocache'),
      network: network === 'none' ? 'none' : 'bridge', scratch, unpack: e.config.unpack,
      ...(target ? { target } : {}), ...(e.config.sourceDateEpoch !== undefined ? { epoch: e.config.sourceDateEpoch } : {}),
      pull: async (ref) => {
        const { pullImage } = await import('../image/registry/pull.js');
        say(`Pulling ${ref}\n`);
        await pullImage(e.images(), ref, { credentialsFile: e.config.credentialsFile, platform: HOST_PLATFORM, haveZstd: which('zstd', e.config.searchPath) !== null });
      },
    }, engineStepRunner(e), {
      stage: (n, count) => void (prefix = count > 1 ? `[${n}/${count}] ` : ''),
      step: (n, total, text) => say(`${prefix}Step ${n}/${total} : ${text}\n`),
      cached: () => say(' ---> Using cache\n'),
      done: (s) => say(` ---> ${s.digest.slice(7, 19)}\n`),
      out: sink(),
      err: sink(),
    });
    if (r.unusedBuildArgs.length > 0) say(`[Warning] One or more build-args [${r.unusedBuildArgs.join(' ')}] were not consumed\n`);
    line({ aux: { ID: r.digest } });
    // Quiet: the id alone, as a stream line (what the docker CLI prints for -q).
    if (quiet) line({ stream: `${r.digest}\n` });
    say(`Successfully built ${r.digest.slice(7, 19)}\n`);
    for (const t of r.tags) say(`Successfully tagged ${t}\n`);
    c.res.end();
  } catch (err) {
    if (!started) throw err;
    const { message } = toResponse(err);
    line({ errorDetail: { message }, error: message });
    c.res.end();
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

export function register(r: Router): void {
  r.add('POST', '/build', build);
}
