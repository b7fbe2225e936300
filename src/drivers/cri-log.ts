import fs from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { LogEntry } from '../core/types.js';
import { readAppended } from '../util/tail.js';
import { Waker } from '../util/waker.js';

/**
 * The CRI (k8s-file) log format both conmon and isola's guest init write: one line per record,
 * "<RFC3339Nano> <stream> <F|P> <text>". Shared by the container, VM and hybrid drivers.
 */
export function parseK8sLine(line: string): LogEntry | null {
  const a = line.indexOf(' ');
  const b = line.indexOf(' ', a + 1);
  const c = line.indexOf(' ', b + 1);
  if (a < 0 || b < 0) return null;
  const stream = line.slice(a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return null;
  const tag = c < 0 ? line.slice(b + 1) : line.slice(b + 1, c);
  return { time: line.slice(0, a), stream, partial: tag === 'P', text: c < 0 ? '' : line.slice(c + 1) };
}

function sizeOf(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Reads a k8s-file log from the start; with `follow`, keeps reading as it grows until
 * `finished()` says the writer is gone and the file has been drained. `exitDirs`: folders whose
 * changes may make `finished()` true (the exit status file's), watched so that the follow ends
 * as soon as the writer's exit is recorded. `writerGone`: settles when the caller sees the writer
 * end (a foreground run waiting on it), so the follow looks at once instead of after a nap.
 */
export async function* readK8sLog(file: string, follow: boolean, finished: () => boolean, signal?: AbortSignal, exitDirs: readonly string[] = [], writerGone?: Promise<unknown>): AsyncIterable<LogEntry> {
  let pos = 0;
  let rest = '';
  const decoder = new StringDecoder('utf8');
  const waker = follow ? new Waker([path.dirname(file), ...exitDirs]) : null;
  if (waker && writerGone) waker.endOn(writerGone);
  try {
    for (;;) {
      // Started again, empty, by a size limit (--log-opt max-size): read it from the top.
      if (pos > 0 && sizeOf(file) < pos) {
        pos = 0;
        rest = '';
      }
      const got = readAppended(file, pos);
      if (got.data.length > 0) {
        pos = got.offset;
        rest += decoder.write(got.data); // a character split across two reads stays whole
        const lines = rest.split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) {
          const e = parseK8sLine(l);
          if (e) yield e;
        }
        continue;
      }
      if (!waker || signal?.aborted) return;
      // One more read after the writer finished, so nothing written just before is lost.
      if (finished()) {
        if (sizeOf(file) <= pos) return;
        continue;
      }
      await waker.nap(50);
    }
  } finally {
    waker?.close();
  }
}
