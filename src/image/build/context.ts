import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import ignoreModule from '@balena/dockerignore';
import { sha256File } from '../digest.js';
import { hasMagic, matchPath } from './glob.js';

/**
 * A folder COPY and ADD take files from: the build context (with `.dockerignore` applied, so an
 * ignored file is as absent as a missing one, as in Docker) or a stage's or image's unpacked
 * file system. Sources are resolved inside it and never outside: `..` that climbs out, or a
 * source that is a symlink pointing out, is refused.
 */
export class SourceError extends Error {
  constructor(readonly kind: 'outside' | 'missing' | 'pattern', message: string) {
    super(message);
  }
}

export interface SourceMatch {
  /** Relative to the source root. */
  rel: string;
  abs: string;
  isDir: boolean;
}

export interface SourceEntry {
  /** Relative to the match (the match itself is '' for a folder, its base name for a file). */
  rel: string;
  abs: string;
  stat: fs.Stats;
}

export class SourceTree {
  private listing: string[] | undefined;
  private readonly ignores: ((rel: string) => boolean) | undefined;
  private readonly negations: boolean;

  /** `dockerignore`: the lines of a .dockerignore file, for the build context. */
  constructor(readonly root: string, dockerignore?: string) {
    const lines = (dockerignore ?? '').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    if (lines.length > 0) {
      // A CommonJS module typed as `export default`: its factory also carries itself as .default.
      const ig = ignoreModule.default().add(lines);
      this.ignores = (rel) => ig.ignores(rel);
    }
    this.negations = lines.some((l) => l.startsWith('!'));
  }

  /** Reads `.dockerignore` from a context folder (BuildKit also reads `<Dockerfile>.dockerignore` beside it). */
  static forContext(root: string, dockerfile?: string): SourceTree {
    const candidates = [...(dockerfile ? [`${dockerfile}.dockerignore`] : []), path.join(root, '.dockerignore')];
    const file = candidates.find((f) => fs.existsSync(f));
    return new SourceTree(root, file ? fs.readFileSync(file, 'utf8') : undefined);
  }

  isIgnored(rel: string): boolean {
    return rel !== '' && this.ignores !== undefined && this.ignores(rel);
  }

  /** Every path in the tree that is not ignored, sorted (what wildcards match against). */
  private all(): string[] {
    if (this.listing) return this.listing;
    const out: string[] = [];
    const walk = (rel: string): void => {
      for (const d of fs.readdirSync(path.join(this.root, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${d.name}` : d.name;
        const ignored = this.isIgnored(r);
        if (!ignored) out.push(r);
        // An ignored folder is entered only when a `!` line could bring something back inside it.
        if (d.isDirectory() && (!ignored || this.negations)) walk(r);
      }
    };
    walk('');
    this.listing = out.sort();
    return out;
  }

  /** The clean relative path of a source, refused when it climbs out of the root. */
  private clean(src: string): string {
    const rel = path.posix.normalize(src.replace(/^\/+/, '') || '.');
    if (rel === '..' || rel.startsWith('../')) throw new SourceError('outside', `${src}: forbidden path outside the build context`);
    return rel === '.' ? '' : rel.replace(/\/+$/, '');
  }

  private inside(abs: string, src: string): void {
    const real = fs.realpathSync(abs);
    const root = fs.realpathSync(this.root);
    if (real !== root && !real.startsWith(`${root}/`)) throw new SourceError('outside', `${src}: forbidden path outside the build context (a symlink to ${real})`);
  }

  /** The paths the sources name, in order; each must match something. */
  match(sources: string[]): SourceMatch[] {
    const out: SourceMatch[] = [];
    for (const src of sources) {
      const rel = this.clean(src);
      let found: string[];
      if (hasMagic(rel)) {
        try {
          found = this.all().filter((p) => matchPath(rel, p));
        } catch (e) {
          throw new SourceError('pattern', `${src}: ${(e as Error).message}`);
        }
      } else {
        found = fs.existsSync(path.join(this.root, rel)) || isLink(path.join(this.root, rel)) ? [rel] : [];
        if (found.length > 0 && this.isIgnored(rel)) found = [];
      }
      if (found.length === 0) throw new SourceError('missing', `${src}: not found in the build context${this.ignores ? ' (or excluded by .dockerignore)' : ''}`);
      for (const f of found) {
        const abs = path.join(this.root, f);
        // The source itself is followed when it is a symlink (Docker's rule), so it must stay inside.
        this.inside(abs, src);
        out.push({ rel: f, abs, isDir: fs.statSync(abs).isDirectory() });
      }
    }
    return out;
  }

  /** What copying a match copies: a file itself, or everything (not ignored) inside a folder. */
  entries(m: SourceMatch): SourceEntry[] {
    if (!m.isDir) return [{ rel: path.posix.basename(m.rel) || path.basename(m.abs), abs: m.abs, stat: fs.statSync(m.abs) }];
    const out: SourceEntry[] = [];
    const walk = (rel: string): void => {
      for (const name of fs.readdirSync(path.join(m.abs, rel)).sort()) {
        const r = rel ? `${rel}/${name}` : name;
        const ctxRel = m.rel ? `${m.rel}/${r}` : r;
        const abs = path.join(m.abs, r);
        const st = fs.lstatSync(abs);
        const ignored = this.isIgnored(ctxRel);
        if (!ignored) out.push({ rel: r, abs, stat: st });
        if (st.isDirectory() && (!ignored || this.negations)) walk(r);
      }
    };
    walk('');
    return out;
  }

  /**
   * The cache input of a COPY from this tree: names, types, modes, sizes, link targets and file
   * contents of everything it copies. Times and owners are left out, as BuildKit leaves them out.
   */
  async digest(sources: string[]): Promise<string> {
    const h = createHash('sha256');
    for (const m of this.match(sources)) {
      h.update(`match ${m.rel} ${m.isDir}\n`);
      for (const e of this.entries(m)) {
        const st = e.stat;
        const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? `link ${fs.readlinkSync(e.abs)}` : st.isFile() ? `file ${st.size} ${await sha256File(e.abs)}` : 'other';
        h.update(`${e.rel}\0${(st.mode & 0o7777).toString(8)}\0${kind}\n`);
      }
    }
    return `sha256:${h.digest('hex')}`;
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
