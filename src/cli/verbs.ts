import type { Command } from 'commander';
import * as run from './run.js';
import * as ps from './ps.js';
import * as lifecycle from './lifecycle.js';
import * as logs from './logs.js';
import * as exec from './exec.js';
import * as inspect from './inspect.js';
import * as stats from './stats.js';
import * as images from './images.js';
import { register as advise } from './advise.js';
import { register as plan } from './plan.js';

/**
 * The one list of CLI verbs. Each verb lives in its own file under src/cli/ and exports
 * `register(program)`; adding a verb is adding one line here.
 */
type Register = (program: Command) => void;

const verbs: Register[] = [
  run.register,
  ps.register,
  lifecycle.register,
  logs.register,
  exec.register,
  inspect.register,
  stats.register,
  images.register,
  advise,
  plan,
];

export function registerVerbs(program: Command): void {
  for (const register of verbs) register(program);
}
