/**
 * The progress display on stderr: one line per step, rewritten in place on a terminal, plain
 * lines otherwise (CI logs, tests), so stdout carries only the result.
 */
export class Progress {
  private readonly tty: boolean;
  private readonly started = Date.now();
  private last = '';

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean } = process.stderr, private readonly quiet = false) {
    this.tty = !!out.isTTY;
  }

  private stamp(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(0).padStart(3)} s`;
  }

  /** A step that is under way ("startup: vm run 3/10"). */
  step(text: string): void {
    if (this.quiet) return;
    const line = `[${this.stamp()}] ${text}`;
    if (this.tty) {
      this.out.write(`\r\x1b[K${line}`);
      this.last = line;
    } else if (text !== this.last) {
      this.out.write(`${line}\n`);
      this.last = text;
    }
  }

  /** A line that stays (a skipped kind, a finished metric). */
  note(text: string): void {
    if (this.quiet) return;
    if (this.tty && this.last) this.out.write('\r\x1b[K');
    this.out.write(`[${this.stamp()}] ${text}\n`);
    this.last = '';
  }

  done(): void {
    if (this.tty && this.last) this.out.write('\r\x1b[K');
    this.last = '';
  }
}
