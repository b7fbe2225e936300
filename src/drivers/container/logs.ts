import fs from 'node:fs';
import type { LogEntry } from '../driver.js';

/** One line of conmon's k8s-file log: "<RFC3339Nano> <stream> <F|P> <text>". */
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

/**
 * Reads a k8s-file log from the start; with `follow`, keeps reading as it grows until
 * `finished()` says the writer is gone and the file has been drained.
 */
export async function* readK8sLog(file: string, follow: boolean, finished: () => boolean, signal?: AbortSignal): AsyncIterable<LogEntry> {
  let pos = 0;
  let rest = '';
  for (;;) {
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      size = 0;
    }
    if (size > pos) {
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(size - pos);
        fs.readSync(fd, buf, 0, buf.length, pos);
        pos = size;
        rest += buf.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        const e = parseK8sLine(l);
        if (e) yield e;
      }
      continue;
    }
    if (!follow || signal?.aborted) return;
    const done = finished();
    // One more read after the writer finished, so nothing written just before is lost.
    if (done) {
      const again = (() => {
        try {
          return fs.statSync(file).size;
        } catch {
          return 0;
        }
      })();
      if (again <= pos) return;
      continue;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
