import { findComposeFile, loadComposeFile } from './load.js';
import { buildModel, checkPortConflicts, projectName, type StackModel } from './model.js';
import { invalid } from '../core/errors.js';
import { dependencyCycle } from './plan.js';

/** What every compose verb is given: -f, -p, --profile, and where and with which environment it runs. */
export interface StackOptions {
  file?: string;
  project?: string;
  profiles: string[];
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * The stack a verb works on: the file found, read, interpolated and validated, its model built
 * and checked (dependency cycle, ports two services claim). Nothing here touches the host.
 */
export function loadStack(o: StackOptions): StackModel {
  const file = findComposeFile(o.file, o.cwd);
  const loaded = loadComposeFile(file, o.env);
  const profiles = [...o.profiles, ...(loaded.vars.get('COMPOSE_PROFILES') ?? '').split(',').map((p) => p.trim()).filter(Boolean)];
  const model = buildModel(loaded, projectName(o.project, loaded, loaded.vars), profiles);
  const cycle = dependencyCycle(model.services);
  if (cycle) throw invalid(`${loaded.where(['services', cycle[0] ?? '', 'depends_on'])}: depends_on has a cycle: ${cycle.join(' -> ')}`, 'remove one of these dependencies');
  checkPortConflicts(model, (at) => loaded.where(at));
  return model;
}
