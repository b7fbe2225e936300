import type { MeasuredKind } from '../core/compare-result.js';
import { advise, type Advice } from './advise.js';
import type { Recommendation } from './decide.js';
import { costOf, type Measured, type MeasuredFigure } from './measured.js';
import type { Workload } from './profile.js';

/** What `isola advise` prints, as data: the JSON output is exactly this. */
export interface AdviseReport {
  source?: string;
  measured?: { file: string; accelerator: string; emulated: boolean; host: string };
  workloads: (Advice & { measuredCost?: MeasuredCost })[];
}

export interface MeasuredCost {
  /** The kind whose figures stand for the recommendation. */
  kind: MeasuredKind;
  note?: string;
  figures: MeasuredFigure[];
  /** The same figures for a plain container, for comparison (absent when the choice is one). */
  baseline?: MeasuredFigure[];
}

const MEASURED_AS: Record<Recommendation, { kind: MeasuredKind; note?: string }> = {
  container: { kind: 'container' },
  'hardened-container': { kind: 'container', note: 'measured as a plain container: the cost of gVisor or seccomp/LSM hardening is not in the file' },
  vm: { kind: 'vm' },
  hybrid: { kind: 'hybrid' },
};

export function adviseAll(workloads: Workload[], measured?: Measured, source?: string): AdviseReport {
  return {
    source,
    measured: measured && {
      file: measured.file,
      accelerator: measured.accelerator,
      emulated: measured.result.context.emulated,
      host: `${measured.result.context.host.cpu}, ${measured.result.context.host.cores} cores, kernel ${measured.result.context.host.kernel}`,
    },
    workloads: workloads.map((w) => {
      const advice = advise(w);
      if (!measured) return advice;
      const as = MEASURED_AS[advice.recommendation];
      return {
        ...advice,
        measuredCost: {
          kind: as.kind,
          note: as.note,
          figures: costOf(measured, as.kind),
          baseline: as.kind === 'container' ? undefined : costOf(measured, 'container'),
        },
      };
    }),
  };
}
