import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../src/util/exec.js';

/**
 * A real terminal for CLI tests: a tmux window on a private server. The command runs on a
 * pseudo-terminal exactly as in a user's terminal emulator: raw mode, window sizes (tmux
 * resizes the pty and its foreground process gets SIGWINCH), control keys. After the command,
 * the window's shell prints `RC=<status>` and the terminal's `icanon` or `-icanon`, so a test
 * sees whether isola gave the terminal back in cooked mode.
 */
export class Tmux {
  private constructor(private readonly server: string, private readonly target: string) {}

  static async start(name: string, command: string, size: { cols: number; rows: number }): Promise<Tmux> {
    const server = `isola-test-${process.pid}`;
    const shell = `${command}; echo "RC=$?"; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'; sleep 600`;
    const r = await run('tmux', ['-L', server, 'new-session', '-d', '-s', name, '-x', String(size.cols), '-y', String(size.rows), shell]);
    if (r.code !== 0) throw new Error(`tmux new-session: ${r.stderr}`);
    return new Tmux(server, name);
  }

  private tmux(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return run('tmux', ['-L', this.server, ...args]);
  }

  /** Types text literally, then Enter. */
  async type(text: string): Promise<void> {
    await this.tmux(['send-keys', '-t', this.target, '-l', text]);
    await this.tmux(['send-keys', '-t', this.target, 'Enter']);
  }

  /** Sends keys by tmux's names (C-c, C-p, ...). */
  async keys(...keys: string[]): Promise<void> {
    await this.tmux(['send-keys', '-t', this.target, ...keys]);
  }

  async resize(size: { cols: number; rows: number }): Promise<void> {
    await this.tmux(['resize-window', '-t', this.target, '-x', String(size.cols), '-y', String(size.rows)]);
  }

  /** The window's text, lines joined where they wrapped, with its history. */
  async screen(): Promise<string> {
    return (await this.tmux(['capture-pane', '-p', '-J', '-S', '-2000', '-t', this.target])).stdout;
  }

  /** Until the screen matches (returns the match), or the time is up: then it fails with the screen. */
  async waitFor(re: RegExp, withinMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const s = await this.screen();
      const m = re.exec(s);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`no ${re} on the terminal within ${withinMs} ms; it shows:\n${s}`);
      await sleep(100);
    }
  }

  /**
   * Types `text` and waits 2 s for `re`, again and again until it shows or `withinMs` passed (then
   * the last wait's error): for answers that depend on something settling first (a window size
   * reaching the workload, output flowing only from the moment a client attached).
   */
  async askUntil(text: string, re: RegExp, withinMs: number): Promise<void> {
    const deadline = Date.now() + withinMs;
    for (;;) {
      try {
        await this.type(text);
        await this.waitFor(re, 2000);
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
  }

  async kill(): Promise<void> {
    await this.tmux(['kill-session', '-t', this.target]);
  }

  /** Ends the private tmux server of this test process (all its windows). */
  static async stopServer(): Promise<void> {
    await run('tmux', ['-L', `isola-test-${process.pid}`, 'kill-server']);
  }
}
