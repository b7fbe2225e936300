import { setTimeout as sleep } from 'node:timers/promises';
import type { Router, Call } from './router.js';
import { SEGMENT } from './router.js';
import { ApiError } from './errors.js';
import { findInstance } from './containers.js';
import { consolePath } from '../cli/console.js';
import { readAppended } from '../util/tail.js';
import { processAlive } from '../util/process.js';

/**
 * GET /dashboard/console/{id}?follow=1&tail=BYTES: a VM's or hybrid's serial console (kernel and
 * init messages, `isola console`), as plain text; with follow, it streams until the VM stops or
 * the client goes. Read-only: QEMU writes the console to a file (no socket takes input), so the
 * page says so. A container has no console: 409.
 */
const POLL_MS = 200;
const DEFAULT_TAIL = 64 * 1024;

async function consoleStream(c: Call): Promise<void> {
  const e = c.api.engine;
  await e.reconcile();
  const rec = findInstance(c, c.params[0] ?? '');
  const file = consolePath(rec.data);
  if (!file) throw new ApiError(409, `${rec.name} is a ${rec.kind} and has no serial console: its output is in its logs`);
  const tail = c.query.int('tail') ?? DEFAULT_TAIL;
  if (tail < 0) throw new ApiError(400, 'tail must be a number of bytes, not negative');
  const follow = c.query.bool('follow');
  let { data, offset } = readAppended(file, 0);
  if (data.length > tail) data = data.subarray(data.length - tail);
  c.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
  c.res.write(data);
  let gone = false;
  c.res.once('close', () => (gone = true));
  const alive = (): boolean => {
    const now = e.instances.get(rec.id);
    return now?.state === 'running' && processAlive(typeof now.data.pid === 'number' ? now.data.pid : null);
  };
  while (follow && !gone && alive()) {
    await sleep(POLL_MS);
    const got = readAppended(file, offset);
    offset = got.offset;
    if (got.data.length > 0) c.res.write(got.data);
  }
  if (follow && !gone) {
    const last = readAppended(file, offset);
    if (last.data.length > 0) c.res.write(last.data);
  }
  c.res.end();
}

export function register(r: Router): void {
  r.add('GET', `/dashboard/console/${SEGMENT}`, consoleStream);
}
