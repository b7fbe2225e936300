/**
 * WWW-Authenticate challenges (RFC 7235): `Bearer realm="https://auth/token",service="reg",
 * scope="repository:app:pull"` or `Basic realm="x"`. A header may carry several challenges;
 * parameter values are tokens or quoted strings with backslash escapes, and a quoted value may
 * hold commas (scopes do).
 */
export interface Challenge {
  /** Lower-case scheme: `basic` or `bearer` (others are kept and ignored by the caller). */
  scheme: string;
  params: Record<string, string>;
}

export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const s = header;
  const skipWs = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(s[i] ?? '')) i++;
    return s.slice(start, i);
  };
  while (i < s.length) {
    skipWs();
    while (s[i] === ',') {
      i++;
      skipWs();
    }
    const scheme = token();
    if (!scheme) break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    // Parameters: name=value pairs separated by commas, until the next scheme (a token not followed by '=').
    for (;;) {
      skipWs();
      const save = i;
      const name = token();
      skipWs();
      if (!name || s[i] !== '=') {
        i = save;
        break;
      }
      i++; // '='
      skipWs();
      let value = '';
      if (s[i] === '"') {
        i++;
        while (i < s.length && s[i] !== '"') {
          if (s[i] === '\\' && i + 1 < s.length) i++;
          value += s[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = token();
      }
      challenge.params[name.toLowerCase()] = value;
      skipWs();
      if (s[i] === ',') i++;
      else break;
    }
  }
  return out;
}
