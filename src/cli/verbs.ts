import type { Command } from 'commander';
import { register as advise } from './advise.js';
import { register as plan } from './plan.js';

/**
 * The one list of CLI verbs. Each verb lives in its own file under src/cli/ and exports
 * `register(program)`; adding a verb is adding one line here.
 */
type Register = (program: Command) => void;

const verbs: Register[] = [advise, plan];

export function registerVerbs(program: Command): void {
  for (const register of verbs) register(program);
}
