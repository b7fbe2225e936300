/**
 * Variable substitution and word splitting as the Dockerfile frontend does it (moby's
 * `shell/lex.go`): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
 * `${VAR+word}`, `${VAR:?message}`, `${VAR?message}`; single quotes keep everything literal,
 * double quotes allow expansion and escape only `"`, `$` and the escape character; outside quotes
 * the escape character takes the next character literally. It is not a shell: no command
 * substitution, globbing or arithmetic, exactly as in Docker.
 *
 * Every variable looked up is recorded in `used`, because a build argument only belongs in a
 * step's cache key when the step reads it.
 */
export class WordError extends Error {}

export type Env = ReadonlyMap<string, string>;

export interface Expanded<T> {
  value: T;
  used: Set<string>;
}

const NAME_CHAR = /[A-Za-z0-9_]/;

class Lexer {
  private pos = 0;
  readonly used = new Set<string>();
  // Word boundaries: `words` collects finished words, `cur` the current one, `blank` whether
  // anything (even an empty quoted string) started the current word.
  private words: string[] = [];
  private cur = '';
  private started = false;

  constructor(private readonly src: string, private readonly env: Env, private readonly escape: string) {}

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private next(): string | undefined {
    return this.src[this.pos++];
  }

  private addRaw(s: string): void {
    this.cur += s;
    this.started = true;
  }

  /** Unquoted text from an expansion is split on white space, as the shell splits fields. */
  private addSplit(s: string): void {
    for (const ch of s) {
      if (/\s/.test(ch)) this.blank();
      else this.addRaw(ch);
    }
  }

  private blank(): void {
    if (this.started) this.words.push(this.cur);
    this.cur = '';
    this.started = false;
  }

  /** Processes up to `stop` (or the end); returns the words and the text as one word. */
  run(split: boolean, stop?: string): { words: string[]; word: string } {
    let word = '';
    for (;;) {
      const ch = this.peek();
      if (ch === undefined || (stop !== undefined && ch === stop)) break;
      this.pos++;
      if (ch === "'") {
        const s = this.singleQuoted();
        word += s;
        this.addRaw(s);
      } else if (ch === '"') {
        const s = this.doubleQuoted();
        word += s;
        this.addRaw(s);
      } else if (ch === '$') {
        const s = this.dollar();
        word += s;
        if (split) this.addSplit(s);
        else this.addRaw(s);
      } else if (ch === this.escape) {
        const n = this.next();
        if (n === undefined) continue; // an escape at the very end is dropped
        word += n;
        this.addRaw(n);
      } else if (split && /\s/.test(ch)) {
        word += ch;
        this.blank();
      } else {
        word += ch;
        this.addRaw(ch);
      }
    }
    this.blank();
    return { words: this.words, word };
  }

  private singleQuoted(): string {
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new WordError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return out;
      out += ch;
    }
  }

  private doubleQuoted(): string {
    let out = '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new WordError('unexpected end of statement while looking for matching double-quote');
      if (ch === '"') return out;
      if (ch === '$') {
        out += this.dollar();
      } else if (ch === this.escape) {
        const n = this.peek();
        if (n === undefined) continue;
        if (n === '"' || n === '$' || n === this.escape) out += this.next();
        else out += ch; // other escapes stay as written inside double quotes
      } else {
        out += ch;
      }
    }
  }

  private name(): string {
    let n = '';
    while (this.peek() !== undefined && NAME_CHAR.test(this.peek() as string)) n += this.next();
    return n;
  }

  private lookup(name: string): string | undefined {
    this.used.add(name);
    return this.env.get(name);
  }

  private dollar(): string {
    const ch = this.peek();
    if (ch !== '{') {
      const name = this.name();
      if (name === '') return '$';
      return this.lookup(name) ?? '';
    }
    this.pos++;
    const name = this.name();
    if (name === '') throw new WordError(`bad substitution at "\${${this.src.slice(this.pos, this.pos + 8)}"`);
    const op = this.peek();
    if (op === '}') {
      this.pos++;
      return this.lookup(name) ?? '';
    }
    let modifier = '';
    if (op === ':') {
      this.pos++;
      modifier = ':';
    }
    const kind = this.next();
    if (kind !== '-' && kind !== '+' && kind !== '?') throw new WordError(`unsupported modifier (${modifier}${kind ?? ''}) in substitution of ${name}`);
    // The word after the operator is itself expanded, up to the closing brace.
    const inner = new Lexer(this.src.slice(this.pos), this.env, this.escape);
    const { word } = inner.run(false, '}');
    for (const u of inner.used) this.used.add(u);
    this.pos += inner.pos;
    if (this.next() !== '}') throw new WordError(`missing '}' in substitution of ${name}`);
    const value = this.lookup(name);
    const unset = value === undefined || (modifier === ':' && value === '');
    if (kind === '-') return unset ? word : (value as string);
    if (kind === '+') return unset ? '' : word;
    if (unset) throw new WordError(`${name}: ${word || 'is not allowed to be unset'}`);
    return value as string;
  }
}

/** One word: quotes removed, variables expanded, white space kept. */
export function processWord(text: string, env: Env, escape = '\\'): Expanded<string> {
  const lx = new Lexer(text, env, escape);
  const { word } = lx.run(false);
  return { value: word, used: lx.used };
}

/** Several words split on unquoted white space (after expansion), as for COPY, EXPOSE or VOLUME. */
export function processWords(text: string, env: Env, escape = '\\'): Expanded<string[]> {
  const lx = new Lexer(text, env, escape);
  const { words } = lx.run(true);
  return { value: words, used: lx.used };
}
