import type { Assumptions } from './assumptions.js';
import type { InstanceKind } from './demand.js';

/** One line of a strategy's yearly cost, with the arithmetic and the comparison's rule behind it. */
export interface CostLine {
  item: 'hardware' | 'licences' | 'management';
  perYear: number;
  arithmetic: string;
  rule: string;
}

export interface CostBreakdown {
  lines: CostLine[];
  totalPerYear: number;
}

export interface CostInputs {
  hosts: number;
  /** Price of one host: the host type's `cost` when given, otherwise the host.price assumption. */
  hostPrice: number;
  instances: Record<InstanceKind, number>;
  /** VM instances whose guest needs a paid OS licence (Windows). */
  licensedVms: number;
}

const money = (x: number) => x.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** Yearly cost of one placement: hardware amortised, OS licences, administration. */
export function costOf(c: CostInputs, a: Assumptions): CostBreakdown {
  const years = a['host.years'].value;
  const licence = a['licence.windowsPerVm'].value;
  const rate = a['mgmt.hourlyRate'].value;
  const perVm = a['mgmt.hoursPerVm'].value;
  const perHost = a['mgmt.hoursPerHost'].value;
  const orchestration = c.instances.container + c.instances.hybrid > 0 ? a['mgmt.orchestrationHours'].value : 0;
  const hours = c.instances.vm * perVm + c.hosts * perHost + orchestration;
  const lines: CostLine[] = [
    {
      item: 'hardware',
      perYear: (c.hosts * c.hostPrice) / years,
      arithmetic: `${c.hosts} hosts × ${money(c.hostPrice)} / ${years} years`,
      rule: c.instances.vm > 0 ? 'COST-VM-2' : 'COST-C-2',
    },
    {
      item: 'licences',
      perYear: (c.licensedVms * licence) / years,
      arithmetic: `${c.licensedVms} Windows VMs × ${money(licence)} / ${years} years`,
      rule: c.licensedVms > 0 ? 'COST-VM-1' : 'COST-C-1',
    },
    {
      item: 'management',
      perYear: hours * rate,
      arithmetic: `(${c.instances.vm} VMs × ${perVm} h + ${c.hosts} hosts × ${perHost} h + ${orchestration} h orchestration) × ${money(rate)}/h`,
      rule: orchestration > 0 ? 'COST-C-3' : 'COST-VM-3',
    },
  ];
  return { lines, totalPerYear: lines.reduce((s, l) => s + l.perYear, 0) };
}
