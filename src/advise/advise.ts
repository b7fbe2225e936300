import {
  ARCHITECTURE_VALUES, DECISION_FIELDS, OS_VALUES, SCALING_VALUES, TENANCY_VALUES, TRUST_VALUES,
  type DecisionField, type Workload,
} from './profile.js';
import { decide, type Fit, type Recommendation } from './decide.js';
import { RULES, type Rule } from './rules.js';

export interface Reason {
  rule: string;
  section: string;
  quote: string;
  says: string;
}

/** "If tenancy were single, the answer would be hardened-container." */
export interface Change {
  field: DecisionField;
  value: unknown;
  recommendation: Recommendation;
  fit: Fit;
}

export interface MissingAnswer {
  field: DecisionField;
  /** Rules that need it. */
  rules: string[];
  /** The answers that would change the recommendation (empty: it would not). */
  changes: Change[];
}

export interface Advice {
  workload: string;
  recommendation: Recommendation;
  fit: Fit;
  /** high: no missing answer could change it; medium: one could; low: several could. */
  certainty: 'high' | 'medium' | 'low';
  reasons: Reason[];
  /** Why a plain container is not possible (blocker rules that fired). */
  blockers: Reason[];
  missing: MissingAnswer[];
  /** Answered questions whose other answers would change the recommendation. */
  wouldChange: Change[];
}

const toReason = (r: Rule): Reason => ({ rule: r.id, section: r.section, quote: r.quote, says: r.reason });

/** The answers tried when asking "what if": every value of each question. */
const ALTERNATIVES: Record<DecisionField, readonly unknown[]> = {
  os: OS_VALUES,
  trust: TRUST_VALUES,
  tenancy: TENANCY_VALUES,
  compliance: [[], ['pci-dss'], ['iso27001']], // none, one the comparison names, one it does not
  legacy: [true, false],
  fullOsAccess: [true, false],
  architecture: ARCHITECTURE_VALUES,
  scaling: SCALING_VALUES,
  parity: [true, false],
  memoryBytes: [256 * 2 ** 20, 16 * 2 ** 30],
};

const fieldIsMissing = (w: Workload, f: DecisionField) => w[f] === undefined;
const sameAnswer = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function advise(w: Workload): Advice {
  const decision = decide(w);
  const changesFor = (field: DecisionField): Change[] =>
    ALTERNATIVES[field]
      .filter((value) => !sameAnswer(value, w[field]))
      .map((value) => {
        const d = decide({ ...w, [field]: value });
        return { field, value, recommendation: d.recommendation, fit: d.fit };
      })
      .filter((c) => c.recommendation !== decision.recommendation);

  const missing: MissingAnswer[] = DECISION_FIELDS.filter((f) => fieldIsMissing(w, f)).map((field) => ({
    field,
    rules: RULES.filter((r) => r.when && r.reads.includes(field)).map((r) => r.id),
    changes: changesFor(field),
  }));
  const deciding = missing.filter((m) => m.changes.length > 0).length;
  const wouldChange = DECISION_FIELDS.filter((f) => !fieldIsMissing(w, f)).flatMap(changesFor);

  return {
    workload: w.name,
    recommendation: decision.recommendation,
    fit: decision.fit,
    certainty: deciding === 0 ? 'high' : deciding === 1 ? 'medium' : 'low',
    reasons: decision.fired.map(toReason),
    blockers: decision.fired.filter((r) => r.role === 'blocker').map(toReason),
    missing,
    wouldChange,
  };
}
