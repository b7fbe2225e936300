import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { IsolaError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { engineStepRunner } from '../engine/build-runner.js';
import { buildImage } from '../image/build/build.js';
import type { AppProbe } from './load.js';

/**
 * The default demo workload of `isola compare`: the example application (examples/hello-web, a
 * static page served by busybox httpd on port 8080), built here with `isola build` from the
 * Dockerfile in the checkout. Every step is cached, so only the first compare builds it.
 */
export const EXAMPLE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/hello-web');
export const EXAMPLE_REF = 'isola-example/hello-web:1';
export const EXAMPLE_PROBE: AppProbe = { kind: 'http', port: 8080, path: '/' };

export async function buildExample(engine: Engine, step: (line: string) => void): Promise<string> {
  const dockerfile = path.join(EXAMPLE_DIR, 'Dockerfile');
  if (!fs.existsSync(dockerfile)) throw new IsolaError('NOT_FOUND', `the example application is not at ${EXAMPLE_DIR}`, 'give your own application with --image IMG --http PORT, or --quick for the base image');
  step(`building the example application (${path.relative(process.cwd(), EXAMPLE_DIR) || EXAMPLE_DIR}) with isola build`);
  const scratch = path.join(engine.paths.tmp, `build-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  try {
    await buildImage(engine.images(), {
      contextDir: EXAMPLE_DIR, dockerfile, dockerfileName: 'examples/hello-web/Dockerfile', tags: [EXAMPLE_REF], buildArgs: new Map(), noCache: false,
      network: 'none', scratch, unpack: engine.config.unpack,
    }, engineStepRunner(engine), {
      stage: () => undefined, step: (n, total, text) => step(`example build: step ${n}/${total}: ${text}`), cached: () => undefined, done: () => undefined, out: sink, err: sink,
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return EXAMPLE_REF;
}
