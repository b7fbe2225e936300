import path from 'node:path';
import type { ReadEntry } from 'tar';
import { openUncompressed } from '../compression.js';

/**
 * What an image's file system holds, read from its layer tars without unpacking them: each
 * path's type and link target, whiteouts and opaque folders applied. COPY needs it to tell
 * "into this existing folder" from "as this name", to follow symlinks such as Debian's
 * /bin -> usr/bin when it writes a destination, and to find the folders it must create; WORKDIR
 * to know whether its folder exists; --chown to read /etc/passwd and /etc/group.
 */
export type NodeType = 'dir' | 'file' | 'symlink' | 'other';

interface Node {
  type: NodeType;
  linkname?: string;
}

const KEEP_CONTENT = new Set(['etc/passwd', 'etc/group']);
const MAX_HOPS = 40;

function clean(p: string): string {
  return path.posix.normalize(`/${p}`).slice(1).replace(/\/$/, '');
}

export class FsTree {
  private readonly nodes = new Map<string, Node>([['', { type: 'dir' }]]);
  private readonly contents = new Map<string, Buffer>();

  static async fromLayers(layers: string[]): Promise<FsTree> {
    const t = new FsTree();
    for (const l of layers) await t.applyLayer(l);
    return t;
  }

  /** Applies one layer (plain, gzip or zstd tar) on top. */
  async applyLayer(file: string): Promise<void> {
    const { Parser } = await import('tar');
    const created = new Set<string>();
    const input = await openUncompressed(file);
    await new Promise<void>((resolve, reject) => {
      const parser = new Parser({
        onReadEntry: (e: ReadEntry) => {
          const p = clean(e.path);
          const base = path.posix.basename(p);
          const dir = path.posix.dirname(p) === '.' ? '' : path.posix.dirname(p);
          if (base === '.wh..wh..opq') {
            // Everything below this folder from lower layers is hidden; this layer's entries stay.
            for (const k of [...this.nodes.keys()]) if (k.startsWith(`${dir}/`) || (dir === '' && k !== '')) if (!created.has(k)) this.delete(k);
          } else if (base.startsWith('.wh.')) {
            this.removeTree(path.posix.join(dir, base.slice(4)));
          } else if (p !== '') {
            const type: NodeType = e.type === 'Directory' ? 'dir' : e.type === 'SymbolicLink' ? 'symlink' : e.type === 'File' || e.type === 'OldFile' || e.type === 'ContiguousFile' || e.type === 'Link' ? 'file' : 'other';
            // A folder replaced by something else takes its contents with it (rare: checked first).
            if (type !== 'dir' && this.nodes.get(p)?.type === 'dir') this.removeTree(p);
            this.addParents(p, created);
            this.nodes.set(p, { type, ...(type === 'symlink' ? { linkname: e.linkpath } : {}) });
            created.add(p);
            if (KEEP_CONTENT.has(p) && e.type === 'File') {
              const chunks: Buffer[] = [];
              e.on('data', (c: Buffer) => chunks.push(c));
              e.on('end', () => this.contents.set(p, Buffer.concat(chunks)));
              return;
            }
          }
          e.resume();
        },
      });
      parser.on('error', reject);
      input.on('error', reject);
      parser.on('end', () => resolve());
      input.pipe(parser);
    });
  }

  private addParents(p: string, created: Set<string>): void {
    let d = path.posix.dirname(p);
    while (d !== '.' && d !== '' && !this.nodes.has(d)) {
      this.nodes.set(d, { type: 'dir' });
      created.add(d);
      d = path.posix.dirname(d);
    }
  }

  private delete(p: string): void {
    this.nodes.delete(p);
    this.contents.delete(p);
  }

  private removeTree(p: string): void {
    this.delete(p);
    for (const k of [...this.nodes.keys()]) if (k.startsWith(`${p}/`)) this.delete(k);
  }

  /**
   * Records what a layer built here adds (paths relative to the root), without re-reading it;
   * `read` gives a file's content, asked only for the files --chown looks names up in.
   */
  add(p: string, type: NodeType, linkname?: string, read?: () => Buffer): void {
    const c = clean(p);
    this.addParents(c, new Set());
    this.nodes.set(c, { type, ...(linkname !== undefined ? { linkname } : {}) });
    this.contents.delete(c);
    if (type === 'file' && KEEP_CONTENT.has(c) && read) this.contents.set(c, read());
  }

  /**
   * Resolves an absolute path inside the image, following symlinks (the last one too when
   * `followLast`), never leaving the root: what the path names when a container opens it.
   * Returns the resolved path (relative, no leading slash) and what is there, if anything.
   */
  resolve(p: string, followLast = true): { path: string; node: Node | undefined } {
    let parts = clean(p).split('/').filter(Boolean);
    let cur: string[] = [];
    let hops = 0;
    while (parts.length > 0) {
      const name = parts.shift() as string;
      const candidate = [...cur, name].join('/');
      const node = this.nodes.get(candidate);
      if (node?.type === 'symlink' && (parts.length > 0 || followLast) && hops++ < MAX_HOPS) {
        const target = node.linkname ?? '';
        const rest = target.startsWith('/') ? clean(target).split('/').filter(Boolean) : clean(path.posix.join(cur.join('/'), target)).split('/').filter(Boolean);
        parts = [...rest, ...parts];
        cur = [];
        continue;
      }
      cur = [...cur, name];
    }
    const resolved = cur.join('/');
    return { path: resolved, node: this.nodes.get(resolved) };
  }

  isDir(p: string): boolean {
    return this.resolve(p).node?.type === 'dir';
  }

  /** The content of /etc/passwd or /etc/group as the image has it, if it has one. */
  content(p: 'etc/passwd' | 'etc/group'): string | undefined {
    const r = this.resolve(p);
    return this.contents.get(r.path)?.toString('utf8');
  }
}
