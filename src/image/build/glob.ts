/**
 * COPY source patterns as Docker matches them: Go's `filepath.Match` per path component (`*`
 * and `?` never cross a `/`, `[a-z]` and `[^a-z]` classes, the escape character takes the next
 * one literally), plus BuildKit's `**` for any number of components.
 */
export function hasMagic(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

function componentRegex(part: string): RegExp {
  let re = '';
  for (let i = 0; i < part.length; i++) {
    const c = part[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < part.length) re += escapeRe(part[++i] as string);
    else if (c === '[') {
      const end = part.indexOf(']', i + 2);
      if (end < 0) throw new Error(`syntax error in pattern "${part}": unclosed [`);
      let cls = part.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Does a clean relative path (no leading slash) match a clean relative pattern? */
export function matchPath(pattern: string, rel: string): boolean {
  const pats = pattern.split('/').filter(Boolean);
  const parts = rel.split('/').filter(Boolean);
  const regs = pats.map((p) => (p === '**' ? null : componentRegex(p)));
  const go = (pi: number, ri: number): boolean => {
    if (pi === regs.length) return ri === parts.length;
    const r = regs[pi];
    if (r === null) {
      for (let k = ri; k <= parts.length; k++) if (go(pi + 1, k)) return true;
      return false;
    }
    return r !== undefined && ri < parts.length && r.test(parts[ri] as string) && go(pi + 1, ri + 1);
  };
  return go(0, 0);
}
