import fs from 'node:fs';

/**
 * A sleep that change events in the folders given cut short: a follower of a file written by
 * another process (a log, a VM's console) sees a write or an exit status appear at once, not up
 * to one nap later, and a folder whose file does not exist yet is still watched. The timeout is
 * the backstop (and all there is for a folder that does not exist).
 */
export class Waker {
  private wake: (() => void) | null = null;
  private readonly watchers: fs.FSWatcher[] = [];
  /** Set once the writer is known to have ended: naps of 5 ms at most from then on. */
  private ended = false;

  constructor(dirs: readonly string[]) {
    for (const dir of dirs) {
      try {
        this.watchers.push(fs.watch(dir, () => this.wake?.()));
      } catch {
        /* a folder that does not exist (yet): the timeout alone still works */
      }
    }
  }

  /** The writer's end, where the caller learns of it (a VM's QEMU exiting changes no folder). */
  endOn(writerGone: Promise<unknown>): void {
    const end = () => {
      this.ended = true;
      this.wake?.();
    };
    writerGone.then(end, end);
  }

  /** Up to `ms`; 5 ms at most once the writer ended (its last bytes are a read away). */
  nap(ms: number): Promise<void> {
    const wait = this.ended ? Math.min(ms, 5) : ms;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.wake = done;
    });
  }

  close(): void {
    for (const w of this.watchers) w.close();
  }
}
