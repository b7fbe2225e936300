import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { BIN, runCmd, type CliResult } from './fixture.js';

/** A running `isola serve` of a test's data root. */
export interface Served {
  /** Its unix socket, in the data root. */
  readonly sock: string;
  /** What it printed on stderr so far, for assertion messages. */
  log(): string;
  /** SIGTERM, then wait for its exit; safe to call when it already ended. */
  stop(): Promise<void>;
}

/**
 * `isola serve --socket DATA_ROOT/api.sock [extra...]`, returned once it says it listens (after
 * every listener, TCP included, is up), or an assertion error with what it printed.
 */
export async function startServe(root: string, extra: readonly string[] = []): Promise<Served> {
  const sock = path.join(root, 'api.sock');
  const child = spawn(process.execPath, ['--', BIN, 'serve', '--socket', sock, ...extra], { env: { ...process.env, ISOLA_ROOT: root }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  const served: Served = {
    sock,
    log: () => log,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  for (let i = 0; i < 100 && !/listening/.test(log) && child.exitCode === null; i++) await sleep(100);
  if (!/listening/.test(log) || !fs.existsSync(sock)) {
    await served.stop();
    throw new Error(`isola serve did not listen: ${log}`);
  }
  return served;
}

/** The real docker CLI (28.x) pointed at a served socket, with its own config folder in `home`. */
export interface DockerCli {
  /** Runs `docker ARGS`; the exit status is the caller's to check. */
  run(args: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<CliResult>;
  /** Runs `docker ARGS` and asserts exit 0, with what the server logged in the message. */
  ok(args: readonly string[], opts?: { timeoutMs?: number; input?: string }): Promise<CliResult>;
}

export const DOCKER = '/usr/local/bin/docker';

export function dockerCli(home: string, served: Served): DockerCli {
  const run: DockerCli['run'] = (args, opts = {}) => runCmd(DOCKER, [...args], {
    // BuildKit is off: `docker build` then speaks the classic /build endpoint isola serves.
    env: { PATH: process.env.PATH, HOME: home, DOCKER_HOST: `unix://${served.sock}`, DOCKER_CONFIG: path.join(home, 'docker-cli'), DOCKER_BUILDKIT: '0' },
    timeoutMs: opts.timeoutMs ?? 120_000, ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
  return {
    run,
    ok: async (args, opts) => {
      const r = await run(args, opts);
      assert.equal(r.code, 0, `docker ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}\nserver: ${served.log().slice(-2000)}`);
      return r;
    },
  };
}
