import type { Kind } from '../core/types.js';
import type { CheckItem } from './checklist.js';
import type { IsolationLevel } from './level.js';
import type { WorkloadFacts } from './workload.js';
import type { MachineSharing } from './machine.js';

/** The security profile of one running instance: measured facts, the checklist, the level. */
export interface SecurityProfile {
  instance: { id: string; name: string; kind: Kind };
  measuredAt: string;
  /** How the workload's facts were read: from the host's /proc, or through the instance's kernel. */
  measuredVia: string;
  kernel: {
    shared: boolean | null;
    host: string;
    instance: string | null;
    /** Why `shared` is what it is: boot ids compared. */
    evidence: string;
  };
  /** The process the host runs for this instance: the workload itself, or the VMM (QEMU). */
  hostProcess: {
    pid: number; command: string; uid: number; capabilities: number; seccomp: string; ownNamespaces: string[];
    /** Where the host process is the VMM: whether it is jailed, and how (or what it lacks). */
    vmm: { confined: boolean; summary: string } | null;
  };
  workload: WorkloadFacts;
  checklist: CheckItem[];
  level: IsolationLevel;
  // ---- machines: a container placed in a machine (run --machine) ----
  /** What it shares with the machine's other containers, and what it does not. Absent: not placed. */
  machine?: MachineSharing;
}
