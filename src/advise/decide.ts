import type { Workload } from './profile.js';
import { RULES, type Rule, type RuleRole } from './rules.js';

export type Recommendation = 'container' | 'hardened-container' | 'vm' | 'hybrid';
/** Container fit, in the style of migration assessors. */
export type Fit = 'FIT' | 'REQUIRES_EFFORT' | 'NO_FIT' | 'UNKNOWN';

export interface Decision {
  recommendation: Recommendation;
  fit: Fit;
  /** Rules that fired, in table order. */
  fired: Rule[];
  /** Rules that could not be evaluated for lack of an answer. */
  unknown: Rule[];
}

const EVALUATED = RULES.filter((r) => r.when !== undefined);

/** Applies the rule table to one workload. Pure and cheap: plan calls it for every workload. */
export function decide(w: Workload): Decision {
  const fired: Rule[] = [];
  const unknown: Rule[] = [];
  const roles = new Set<RuleRole>();
  const unknownRoles = new Set<RuleRole>();
  for (const rule of EVALUATED) {
    const result = rule.when?.(w);
    if (result === true) {
      fired.push(rule);
      roles.add(rule.role);
    } else if (result === undefined) {
      unknown.push(rule);
      unknownRoles.add(rule.role);
    }
  }
  const recommendation: Recommendation = roles.has('blocker') || roles.has('legacy')
    ? 'vm'
    : roles.has('hybrid')
      ? 'hybrid'
      : roles.has('isolation')
        ? 'vm'
        : roles.has('hardening')
          ? 'hardened-container'
          : 'container';
  const fit: Fit = roles.has('blocker')
    ? 'NO_FIT'
    : unknownRoles.has('blocker')
      ? 'UNKNOWN' // it may not run in a container at all: say so rather than guess
      : roles.has('legacy') || roles.has('isolation') || roles.has('hybrid') || roles.has('hardening')
        ? 'REQUIRES_EFFORT'
        : 'FIT';
  return { recommendation, fit, fired, unknown };
}
