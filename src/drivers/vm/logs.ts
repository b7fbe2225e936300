import fs from 'node:fs';
import type { LogEntry } from '../driver.js';
import { sleep } from './monitor.js';

/**
 * The workload's log, as the guest init writes it to the isola.log port: CRI lines
 * "TIME STREAM F|P TEXT". Kernel and init messages go to the serial console instead, so this
 * file holds nothing but the workload's own output.
 */
export function parseLogLine(line: string): LogEntry | null {
  const m = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s.exec(line);
  if (!m) return null;
  return { time: m[1] as string, stream: m[2] as 'stdout' | 'stderr', partial: m[3] === 'P', text: m[4] as string };
}

export async function* readLog(file: string, opts: { follow: boolean; signal?: AbortSignal; running: () => boolean }): AsyncIterable<LogEntry> {
  let offset = 0;
  let rest = '';
  for (;;) {
    const live = opts.running();
    let chunk = '';
    try {
      const fd = fs.openSync(file, 'r');
      try {
        const size = fs.fstatSync(fd).size;
        if (size > offset) {
          const buf = Buffer.alloc(size - offset);
          fs.readSync(fd, buf, 0, buf.length, offset);
          offset = size;
          chunk = buf.toString('utf8');
        }
      } finally {
        fs.closeSync(fd);
      }
    } catch {
      /* not written yet */
    }
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const l of lines) {
      const e = parseLogLine(l);
      if (e) yield e;
    }
    // Stop after a last read that happened when the VM was already gone.
    if (!opts.follow || !live || opts.signal?.aborted) return;
    await sleep(chunk ? 0 : 25);
    if (opts.signal?.aborted) return;
  }
}
