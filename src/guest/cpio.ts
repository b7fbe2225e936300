/**
 * A writer for the cpio "newc" format, the one the Linux kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst). Written here rather than
 * shelling out to cpio(1) because each VM gets a small per-instance archive appended to the
 * shared initramfs, and because device nodes (/dev/console) can be described without mknod.
 */
export type CpioEntry =
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'file'; name: string; data: Buffer; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'char'; name: string; major: number; minor: number; mode?: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

function pad4(n: number): Buffer {
  return Buffer.alloc((4 - (n % 4)) % 4);
}

function header(ino: number, mode: number, size: number, nameLen: number, rdevMajor = 0, rdevMinor = 0, nlink = 1): Buffer {
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, nameLen, 0];
  return Buffer.from('070701' + fields.map(hex8).join(''), 'ascii');
}

/** One archive, ending with the TRAILER!!! entry, so that archives can be concatenated. */
export function cpioArchive(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  const push = (b: Buffer): void => {
    parts.push(b);
    offset += b.length;
  };
  const emit = (ino: number, mode: number, name: string, data: Buffer, major = 0, minor = 0, nlink = 1): void => {
    const nameBuf = Buffer.from(name + '\0', 'utf8');
    push(header(ino, mode, data.length, nameBuf.length, major, minor, nlink));
    push(nameBuf);
    push(pad4(offset));
    push(data);
    push(pad4(offset));
  };
  let ino = 1;
  for (const e of entries) {
    const name = e.name.replace(/^\/+/, '');
    switch (e.type) {
      case 'dir':
        emit(ino++, S_IFDIR | (e.mode ?? 0o755), name, Buffer.alloc(0), 0, 0, 2);
        break;
      case 'file':
        emit(ino++, S_IFREG | (e.mode ?? 0o644), name, e.data);
        break;
      case 'symlink':
        emit(ino++, S_IFLNK | 0o777, name, Buffer.from(e.target, 'utf8'));
        break;
      case 'char':
        emit(ino++, S_IFCHR | (e.mode ?? 0o600), name, Buffer.alloc(0), e.major, e.minor);
        break;
    }
  }
  emit(0, 0, 'TRAILER!!!', Buffer.alloc(0), 0, 0, 1);
  return Buffer.concat(parts);
}
