/**
 * Kleene three-valued logic. A rule over an unanswered question is neither true nor false but
 * unknown (undefined), and stays unknown unless the answered parts decide it on their own:
 * "multi-tenant AND untrusted" is false as soon as either is known to be false.
 */
export type Tri = boolean | undefined;

export function and(...xs: Tri[]): Tri {
  if (xs.some((x) => x === false)) return false;
  return xs.every((x) => x === true) ? true : undefined;
}

export function or(...xs: Tri[]): Tri {
  if (xs.some((x) => x === true)) return true;
  return xs.every((x) => x === false) ? false : undefined;
}

export function not(x: Tri): Tri {
  return x === undefined ? undefined : !x;
}

/** `value === expected`, or unknown when the value was not given. */
export function is<T>(value: T | undefined, expected: T): Tri {
  return value === undefined ? undefined : value === expected;
}

export function isOneOf<T>(value: T | undefined, expected: readonly T[]): Tri {
  return value === undefined ? undefined : expected.includes(value);
}
