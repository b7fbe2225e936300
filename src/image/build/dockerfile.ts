import { DockerfileParser, type Instruction as AstInstruction } from 'dockerfile-ast';
import { IsolaError } from '../../core/errors.js';

/**
 * The Dockerfile parser adapter: `dockerfile-ast` (the parser behind the Dockerfile language
 * server) splits the file into instructions, flags, key=value properties and parser directives,
 * with line numbers; this module turns its tree into isola's own small `Instruction` records and
 * refuses what Docker refuses at parse time, naming FILE:LINE. Nothing else in the builder
 * touches the library's types, so it could be replaced without touching the plan.
 */
export const KEYWORDS = [
  'FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME',
  'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
] as const;
export type Keyword = (typeof KEYWORDS)[number];

export interface Flag {
  name: string;
  /** null for a flag written without `=` (`--link`). */
  value: string | null;
}

export interface Property {
  name: string;
  /** The value as written, quotes and escapes kept, for the word expander; null when missing. */
  raw: string | null;
}

export interface Instruction {
  keyword: Keyword;
  /** 1-based line of the keyword. */
  line: number;
  flags: Flag[];
  /** The arguments after the flags: continuation lines joined, comment lines inside removed. */
  args: string;
  /** The exec (JSON array) form, or null for the shell form. */
  json: string[] | null;
  /** ENV, LABEL and ARG: their key=value pairs. */
  properties: Property[];
  /** The instruction as written, on one line (STEP lines and error messages). */
  text: string;
}

export interface DockerfileDoc {
  /** How errors name the file: its path as the user gave it. */
  file: string;
  escape: string;
  instructions: Instruction[];
}

/** A parse or plan error at a line of the Dockerfile: `FILE:LINE: problem; fix`. */
export function dockerfileError(file: string, line: number | null, message: string, hint?: string): IsolaError {
  return new IsolaError('INVALID_ARGUMENT', `${file}${line ? `:${line}` : ''}: ${message}`, hint);
}

/**
 * Joins continuation lines as Docker does: the escape character at the end of a line (trailing
 * blanks allowed) joins the next one, and empty or comment lines inside a continued instruction
 * are dropped.
 */
export function foldLines(raw: string, escape: string): string {
  const lines = raw.split(/\r?\n/);
  const cont = new RegExp(`${escape === '\\' ? '\\\\' : escape.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*$`);
  let out = '';
  for (const [i, line] of lines.entries()) {
    if (i > 0 && (/^\s*$/.test(line) || /^\s*#/.test(line))) continue;
    const m = cont.exec(line);
    out += m && i < lines.length - 1 ? line.slice(0, m.index) : line;
  }
  return out.trim();
}

/** Docker's rule: arguments that parse as a JSON array of strings are the exec form. */
export function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : null;
  } catch {
    return null;
  }
}

function flagsOf(i: AstInstruction): Flag[] {
  const withFlags = i as AstInstruction & { getFlags?: () => { getName(): string; getValue(): string | null }[] };
  return (withFlags.getFlags?.() ?? []).map((f) => ({ name: f.getName(), value: f.getValue() }));
}

function propertiesOf(i: AstInstruction): Property[] {
  const withProps = i as AstInstruction & { getProperties?: () => { getName(): string; getUnescapedValue(): string | null }[] };
  return (withProps.getProperties?.() ?? []).map((p) => ({ name: p.getName(), raw: p.getUnescapedValue() }));
}

function heredocs(i: AstInstruction): number {
  const withDocs = i as AstInstruction & { getHeredocs?: () => unknown[] };
  return withDocs.getHeredocs?.().length ?? 0;
}

export function parseDockerfile(content: string, file: string): DockerfileDoc {
  const ast = DockerfileParser.parse(content);
  const escape = ast.getEscapeCharacter();
  const instructions: Instruction[] = [];
  for (const i of ast.getInstructions()) {
    const line = i.getRange().start.line + 1;
    const keyword = i.getKeyword().toUpperCase();
    if (!(KEYWORDS as readonly string[]).includes(keyword)) {
      throw dockerfileError(file, line, `unknown instruction: ${i.getInstruction()}`, `use one of ${KEYWORDS.join(', ')}`);
    }
    if (heredocs(i) > 0) {
      throw dockerfileError(file, line, `${keyword} with a here-document (<<) is not supported by isola build`, 'write the script to a file in the context and COPY it, or use RUN sh -c \'...\'');
    }
    const args = foldLines(i.getRawArgumentsContent() ?? '', escape);
    const flags = flagsOf(i);
    if (args === '') throw dockerfileError(file, line, `${keyword} requires at least one argument`, 'see docs/BUILD.md for its syntax');
    const flagText = flags.map((f) => (f.value === null ? `--${f.name}` : `--${f.name}=${f.value}`)).join(' ');
    instructions.push({
      keyword: keyword as Keyword,
      line,
      flags,
      args,
      json: execForm(args),
      properties: propertiesOf(i),
      text: [keyword, flagText, args].filter(Boolean).join(' '),
    });
  }
  return { file, escape, instructions };
}
