import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import { parseBytes } from '../core/units.js';
import {
  ARCHITECTURE_VALUES, COMPLIANCE_VALUES, OS_VALUES, SCALING_VALUES, TENANCY_VALUES, TRUST_VALUES, type Workload,
} from './profile.js';
import { SIZE_PATTERN } from './profile-schema.js';

/**
 * The interactive form of a workload profile, for `isola advise` on a terminal without a file.
 * An empty answer means "don't know" and leaves the field unanswered, exactly as omitting it
 * from a file would. Streams are parameters so tests can drive it without a terminal.
 */
interface Question {
  field: keyof Workload;
  ask: string;
  /** Returns the parsed answer, or throws an Error whose message says what is accepted. */
  parse: (text: string) => unknown;
}

const choice = (values: readonly string[]) => (text: string) => {
  if (!values.includes(text)) throw new Error(`answer one of: ${values.join(', ')}`);
  return text;
};

const yesNo = (text: string) => {
  if (/^(y|yes|true)$/i.test(text)) return true;
  if (/^(n|no|false)$/i.test(text)) return false;
  throw new Error('answer yes or no');
};

const QUESTIONS: Question[] = [
  { field: 'name', ask: 'Name of the workload', parse: (t) => t },
  { field: 'os', ask: `Guest OS (${OS_VALUES.join(' | ')})`, parse: choice(OS_VALUES) },
  { field: 'trust', ask: `Whose code is it (${TRUST_VALUES.join(' | ')})`, parse: choice(TRUST_VALUES) },
  { field: 'tenancy', ask: `Do different customers share the hosts (${TENANCY_VALUES.join(' | ')})`, parse: choice(TENANCY_VALUES) },
  {
    field: 'compliance',
    ask: `Compliance regimes, comma-separated (${COMPLIANCE_VALUES.join(', ')}; "none" for none)`,
    parse: (t) => {
      if (t === 'none') return [];
      const list = t.split(',').map((s) => s.trim()).filter(Boolean);
      for (const c of list) choice(COMPLIANCE_VALUES)(c);
      return [...new Set(list)];
    },
  },
  { field: 'legacy', ask: 'Legacy or unpatched software, or needs a specific old OS version (yes | no)', parse: yesNo },
  { field: 'fullOsAccess', ask: 'Needs kernel modules, its own kernel or full OS control (yes | no)', parse: yesNo },
  { field: 'architecture', ask: `Architecture (${ARCHITECTURE_VALUES.join(' | ')})`, parse: choice(ARCHITECTURE_VALUES) },
  { field: 'scaling', ask: `Must it scale out in seconds (${SCALING_VALUES.join(' | ')})`, parse: choice(SCALING_VALUES) },
  { field: 'parity', ask: 'Does dev/prod parity matter (yes | no)', parse: yesNo },
  {
    field: 'memoryBytes',
    ask: 'Memory per instance, with a unit (for example 512Mi)',
    parse: (t) => {
      if (!new RegExp(SIZE_PATTERN).test(t)) throw new Error('give a size with a unit, for example 512Mi or 4G');
      return parseBytes(t, 'memory');
    },
  },
  {
    field: 'cpus',
    ask: 'CPUs per instance (for example 0.5)',
    parse: (t) => {
      const n = Number(t);
      if (!Number.isFinite(n) || n <= 0) throw new Error('give a number greater than zero');
      return n;
    },
  },
  {
    field: 'replicas',
    ask: 'Number of instances',
    parse: (t) => {
      const n = Number(t);
      if (!Number.isInteger(n) || n < 1) throw new Error('give a whole number of at least 1');
      return n;
    },
  },
];

export async function askWorkload(input: Readable, output: Writable): Promise<Workload> {
  const rl = createInterface({ input, output, terminal: false });
  // Iterating lines (rather than rl.question) keeps answers that arrive before their prompt.
  const lines = rl[Symbol.asyncIterator]();
  const answers: Record<string, unknown> = {};
  output.write('Answer what you know; press Enter to skip a question ("don\'t know").\n');
  try {
    for (const q of QUESTIONS) {
      for (;;) {
        output.write(`${q.ask}: `);
        const next = await lines.next();
        if (next.done) return finish(answers); // end of input: the rest stays unanswered
        const text = String(next.value).trim();
        if (text === '') break;
        try {
          answers[q.field] = q.parse(text);
          break;
        } catch (e) {
          output.write(`  ${(e as Error).message}\n`);
        }
      }
    }
    return finish(answers);
  } finally {
    rl.close();
  }
}

function finish(answers: Record<string, unknown>): Workload {
  const w = answers as Partial<Workload>;
  return { ...w, name: w.name ?? 'workload 1', index: 0 };
}
