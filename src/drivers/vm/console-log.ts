import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { LogEntry } from '../../core/types.js';
import { readAppended } from '../../util/tail.js';

/**
 * The serial console as a log: what `isola logs` shows of a VM that boots its own OS (no isola
 * init to frame its output). The console is plain text with no times, so each line carries the
 * time isola read it (the file's last change for lines already there); it all counts as stdout,
 * and carriage returns before the newline are dropped.
 */
export async function* readConsoleLog(file: string, follow: boolean, finished: () => boolean, signal?: AbortSignal): AsyncIterable<LogEntry> {
  let pos = 0;
  let rest = '';
  const decoder = new StringDecoder('utf8');
  for (;;) {
    const got = readAppended(file, pos);
    if (got.data.length > 0) {
      pos = got.offset;
      let time: string;
      try {
        time = fs.statSync(file).mtime.toISOString();
      } catch {
        time = new Date().toISOString();
      }
      rest += decoder.write(got.data);
      const lines = rest.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) yield { time, stream: 'stdout', text: l.replace(/\r+$/, ''), partial: false };
      continue;
    }
    if (!follow || signal?.aborted || finished()) {
      if (finished() && readAppended(file, pos).data.length > 0) continue;
      if (rest) yield { time: new Date().toISOString(), stream: 'stdout', text: rest.replace(/\r+$/, ''), partial: true };
      return;
    }
    await sleep(100);
  }
}
