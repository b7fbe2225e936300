/**
 * Compose's variable interpolation, applied to every string value of a file before it is
 * validated: `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}`, `${VAR:?error}` /
 * `${VAR?error}`, `${VAR:+other}` / `${VAR+other}`, and `$$` for a literal `$`. Defaults nest
 * (`${A:-${B}}`), as in Compose.
 */
export type Variables = ReadonlyMap<string, string>;

/** A `${VAR?message}` whose variable is missing, or a malformed reference; the caller adds where. */
export class InterpolationError extends Error {}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

export function interpolate(text: string, vars: Variables): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) throw new InterpolationError(`unclosed "\${" in "${text}"`);
      out += expand(text.slice(i + 2, end), vars);
      i = end + 1;
      continue;
    }
    const name = NAME.exec(text.slice(i + 1))?.[0];
    if (!name) {
      // A lone `$` (e.g. a price "5$"): kept, as Compose keeps it.
      out += '$';
      i++;
      continue;
    }
    out += vars.get(name) ?? '';
    i += 1 + name.length;
  }
  return out;
}

function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let j = from; j < text.length; j++) {
    if (text[j] === '$' && text[j + 1] === '{') {
      depth++;
      j++;
    } else if (text[j] === '}' && --depth === 0) return j;
  }
  return -1;
}

function expand(body: string, vars: Variables): string {
  const name = NAME.exec(body)?.[0];
  if (!name) throw new InterpolationError(`invalid variable reference "\${${body}}"`);
  const rest = body.slice(name.length);
  const value = vars.get(name);
  if (rest === '') return value ?? '';
  const m = /^(:?)([-?+])([\s\S]*)$/.exec(rest);
  if (!m) throw new InterpolationError(`invalid variable reference "\${${body}}"`);
  const colon = m[1] === ':';
  const op = m[2];
  const arg = m[3] ?? '';
  const unset = colon ? value === undefined || value === '' : value === undefined;
  if (op === '-') return unset ? interpolate(arg, vars) : (value ?? '');
  if (op === '+') return unset ? '' : interpolate(arg, vars);
  if (unset) throw new InterpolationError(arg ? `${name}: ${interpolate(arg, vars)}` : `required variable ${name} is missing a value`);
  return value ?? '';
}

/**
 * A `.env` or `env_file` file: `KEY=VALUE` lines, `#` comments, blank lines, an optional
 * `export ` prefix, values optionally in single quotes (literal) or double quotes (with \n
 * escapes). Throws InterpolationError with the line number for a malformed line.
 */
export function parseEnvText(text: string): Map<string, string> {
  const out = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=\s*([\s\S]*))?$/.exec(line);
    if (!m?.[1]) throw new InterpolationError(`line ${index + 1}: "${raw}" is not KEY=VALUE`);
    if (m[2] === undefined) return; // KEY alone: no value to set (Compose takes it from the environment)
    let v = m[2];
    if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1);
    else if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    else v = v.replace(/\s+#.*$/, '');
    out.set(m[1], v);
  });
  return out;
}
