import { PassThrough, type Writable } from 'node:stream';

export interface Collected {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs something that writes to a stdout and a stderr stream (a Driver's or the Engine's exec)
 * and collects both as text, with its exit status.
 */
export async function collectOutput(run: (io: { stdout: Writable; stderr: Writable }) => Promise<number>): Promise<Collected> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await run({ stdout: out, stderr: err });
  return { code, stdout, stderr };
}
