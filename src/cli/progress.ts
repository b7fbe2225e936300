import { formatBytes } from '../core/units.js';
import type { ProgressEvent, ProgressSink } from '../image/progress.js';

const BAR = 30;

function bar(current: number, total: number): string {
  const filled = total > 0 ? Math.min(BAR, Math.floor((current / total) * BAR)) : 0;
  return `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(BAR - filled)}]`;
}

function line(e: ProgressEvent): string {
  const moving = e.status === 'Downloading' || e.status === 'Pushing';
  if (moving && e.total) return `${e.id}: ${e.status.padEnd(12)} ${bar(e.current ?? 0, e.total)} ${formatBytes(e.current ?? 0)}/${formatBytes(e.total)}`;
  return `${e.id}: ${e.status}`;
}

export interface Progress {
  sink: ProgressSink;
  /** Draws the final state and stops redrawing. */
  done(): void;
}

/**
 * Docker's pull and push display on stderr: on a terminal one line per blob, redrawn in place
 * (at most ten times a second) with a total line under them; elsewhere (a log, CI) one plain
 * line each time a blob changes state, never a line per chunk.
 */
export function progressDisplay(out: NodeJS.WriteStream = process.stderr, enabled = true): Progress {
  if (!enabled) return { sink: () => undefined, done: () => undefined };
  const state = new Map<string, ProgressEvent>();
  if (!out.isTTY) {
    return {
      sink: (e) => {
        const prev = state.get(e.id);
        state.set(e.id, e);
        if (prev?.status !== e.status) out.write(`${e.id}: ${e.status}${e.total && (e.status === 'Downloading' || e.status === 'Pushing') ? ` (${formatBytes(e.total)})` : ''}\n`);
      },
      done: () => undefined,
    };
  }
  let drawn = 0;
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    timer = undefined;
    last = Date.now();
    const events = [...state.values()];
    const total = events.reduce((a, e) => a + (e.total ?? 0), 0);
    const current = events.reduce((a, e) => a + (e.current ?? 0), 0);
    const lines = [...events.map(line), `Total: ${bar(current, total)} ${formatBytes(current)}/${formatBytes(total)}`];
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) s += `\x1b[2K${l.slice(0, Math.max(20, (out.columns || 80) - 1))}\n`;
    out.write(s);
    drawn = lines.length;
  };
  return {
    sink: (e) => {
      const prev = state.get(e.id);
      state.set(e.id, { ...e, total: e.total ?? prev?.total, current: e.current ?? (e.status === 'Waiting' ? 0 : prev?.current) });
      if (Date.now() - last >= 100 || prev?.status !== e.status) {
        if (timer) clearTimeout(timer);
        draw();
      } else {
        timer ??= setTimeout(draw, 100);
      }
    },
    done: () => {
      if (timer) clearTimeout(timer);
      if (state.size > 0) draw();
    },
  };
}
