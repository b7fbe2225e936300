import fs from 'node:fs';

/**
 * What a file gained since `offset`: the new bytes and the new offset. A file that does not
 * exist yet has gained nothing. For logs and consoles that another process appends to.
 */
export function readAppended(file: string, offset: number): { data: Buffer; offset: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return { data: Buffer.alloc(0), offset };
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size <= offset) return { data: Buffer.alloc(0), offset };
    const data = Buffer.alloc(size - offset);
    const n = fs.readSync(fd, data, 0, data.length, offset);
    return { data: data.subarray(0, n), offset: offset + n };
  } finally {
    fs.closeSync(fd);
  }
}
