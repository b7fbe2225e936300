import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { cpioArchive } from '../../guest/cpio.js';
import { encodeRecords } from '../../guest/records.js';

/** One timed run: the first stdout chunk holding the mark, the exit, its status. */
export interface Timed {
  firstOutputMs: number | null;
  exitMs: number;
  code: number;
  stderr: string;
}

/** Runs a command; times its first stdout chunk holding `mark` and its exit (killed after 120 s). */
export function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv, mark: string): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // stdin stays an open pipe: QEMU's stdio chardev closes its port on EOF, and a guest
    // writing to a closed virtio-serial port blocks.
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let firstOutputMs: number | null = null;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (firstOutputMs === null && out.includes(mark)) firstOutputMs = performance.now() - t0;
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ firstOutputMs, exitMs: performance.now() - t0, code: code ?? 137, stderr });
    });
  });
}

/** The initrd of a bare QEMU floor: isola's initramfs plus a config whose workload echoes `mark`. */
export function writeEchoInitrd(initramfs: string, file: string, mark: string): void {
  fs.writeFileSync(file, Buffer.concat([
    fs.readFileSync(initramfs),
    cpioArchive([{ type: 'dir', name: 'isola' }, { type: 'file', name: 'isola/config', data: encodeRecords({ argv: ['echo', mark], env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], workdir: '/' }) }]),
  ]));
}
