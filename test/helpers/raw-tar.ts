/**
 * Writes tar archives byte by byte (ustar headers), so tests can build the malicious entries
 * that well-behaved tar writers refuse to produce: absolute paths, `..`, links out of the root,
 * names carried in PAX records or GNU long-name entries, sizes that lie.
 */
export interface RawEntry {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'fifo';
  body?: string;
  linkpath?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  /** How the path (and linkpath) travel: in the ustar header (cut at 100 bytes), a PAX record, or GNU long-name entries. */
  encoding?: 'ustar' | 'pax' | 'gnu';
  /** Write this size in the header instead of the body's length (a header that lies). */
  sizeField?: number;
}

const TYPEFLAG = { file: '0', hardlink: '1', symlink: '2', char: '3', dir: '5', fifo: '6' } as const;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0').slice(-(width - 1)) + '\0';
}

function header(name: string, typeflag: string, size: number, e: Pick<RawEntry, 'mode' | 'uid' | 'gid'>, linkpath?: string): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(e.mode ?? (typeflag === '5' ? 0o755 : 0o644), 8), 100, 'ascii');
  h.write(octal(e.uid ?? 0, 8), 108, 'ascii');
  h.write(octal(e.gid ?? 0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(1700000000, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder: spaces while summing
  h.write(typeflag, 156, 'ascii');
  if (linkpath) h.write(linkpath, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function padded(body: Buffer): Buffer[] {
  return body.length === 0 ? [] : [body, Buffer.alloc((512 - (body.length % 512)) % 512, 0)];
}

/** A PAX record: "<len> key=value\n", where len counts the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
  return `${len}${rest}`;
}

export function rawTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = Buffer.from(type === 'file' ? (e.body ?? '') : '');
    const encoding = e.encoding ?? 'ustar';
    if (encoding === 'pax') {
      const records = Buffer.from(paxRecord('path', e.path) + (e.linkpath ? paxRecord('linkpath', e.linkpath) : ''));
      parts.push(header('PaxHeader/x', 'x', records.length, {}), ...padded(records));
    } else if (encoding === 'gnu') {
      if (e.linkpath) {
        const link = Buffer.from(`${e.linkpath}\0`);
        parts.push(header('././@LongLink', 'K', link.length, {}), ...padded(link));
      }
      const name = Buffer.from(`${e.path}\0`);
      parts.push(header('././@LongLink', 'L', name.length, {}), ...padded(name));
    }
    const shortName = encoding === 'ustar' ? e.path : e.path.slice(0, 99);
    const shortLink = encoding === 'ustar' ? e.linkpath : e.linkpath?.slice(0, 99);
    parts.push(header(shortName, TYPEFLAG[type], e.sizeField ?? body.length, e, shortLink), ...padded(body));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}
