/**
 * Writes tar archives byte by byte (ustar headers), so tests can build the malicious entries
 * that well-behaved tar writers refuse to produce: absolute paths, `..`, links out of the root.
 */
export interface RawEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'fifo';
  body?: string;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', dir: '5', fifo: '6' } as const;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function header(e: RawEntry, size: number): Buffer {
  const h = Buffer.alloc(512, 0);
  const type = e.type ?? 'file';
  h.write(e.path, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (type === 'dir' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(e.uid ?? 0, 8), 108, 'ascii');
  h.write(octal(e.gid ?? 0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1700000000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder: spaces while summing
  h.write(TYPEFLAG[type], 156, 'ascii');
  if (e.linkpath) h.write(e.linkpath, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const size = (e.type ?? 'file') === 'file' ? body.length : 0;
    parts.push(header(e, size));
    if (size > 0) {
      parts.push(body);
      parts.push(Buffer.alloc((512 - (size % 512)) % 512, 0));
    }
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}
