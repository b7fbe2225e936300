import type { Command } from 'commander';
import type { CliContext } from './context.js';

/**
 * The one list of CLI verbs. Each verb file under src/cli/ exports `register(program)`; adding
 * a verb is adding one line here: the verb names it registers and how to load it.
 *
 * Files are loaded lazily: `isola run` loads only run.ts and what it needs, because module
 * loading is most of a short command's wall time (the `run --rm` benchmark counts it). Top-level
 * help and unknown verbs load them all.
 */
type Register = (program: Command, ctx: CliContext) => void;
type Loader = () => Promise<{ register: Register }>;

const modules: { verbs: string[]; load: Loader }[] = [
  { verbs: ['run', 'create', 'start'], load: () => import('./run.js') },
  { verbs: ['ps'], load: () => import('./ps.js') },
  { verbs: ['stop', 'kill', 'rm', 'wait', 'restart', 'pause', 'unpause', 'rename', '_cleanup', '_restart', '_health'], load: () => import('./lifecycle.js') },
  { verbs: ['update'], load: () => import('./update.js') },
  { verbs: ['top'], load: () => import('./top.js') },
  { verbs: ['events'], load: () => import('./events.js') },
  { verbs: ['logs'], load: () => import('./logs.js') },
  { verbs: ['exec'], load: () => import('./exec.js') },
  { verbs: ['attach'], load: () => import('./attach.js') },
  { verbs: ['inspect'], load: () => import('./inspect.js') },
  { verbs: ['stats'], load: () => import('./stats.js') },
  { verbs: ['images', 'import', 'rmi'], load: () => import('./images.js') },
  { verbs: ['pull', 'push', 'login', 'logout'], load: () => import('./registry.js') },
  { verbs: ['tag'], load: () => import('./tag.js') },
  { verbs: ['history'], load: () => import('./history.js') },
  { verbs: ['save', 'load'], load: () => import('./archive.js') },
  { verbs: ['export', 'import-vm'], load: () => import('./export.js') },
  { verbs: ['build', 'builder'], load: () => import('./build.js') },
  { verbs: ['advise'], load: () => import('./advise.js') },
  { verbs: ['plan'], load: () => import('./plan.js') },
  { verbs: ['system'], load: () => import('./system.js') },
  { verbs: ['network'], load: () => import('./network.js') },
  { verbs: ['port'], load: () => import('./port.js') },
  { verbs: ['host'], load: () => import('./host.js') },
  { verbs: ['console'], load: () => import('./console.js') },
  { verbs: ['compare'], load: () => import('./compare.js') },
  { verbs: ['kube'], load: () => import('./kube.js') },
  { verbs: ['volume'], load: () => import('./volume.js') },
  { verbs: ['machine', '_machine-watch'], load: () => import('./machine.js') },
  { verbs: ['cp'], load: () => import('./cp.js') },
  { verbs: ['serve'], load: () => import('./serve.js') },
  { verbs: ['compose'], load: () => import('./compose.js') },
  { verbs: ['commit'], load: () => import('./commit.js') },
  { verbs: ['snapshot'], load: () => import('./snapshot.js') },
];

/** Registers the verb named first in argv, or every verb when there is no such verb. */
export async function registerVerbs(program: Command, ctx: CliContext, argv: string[] = []): Promise<void> {
  const first = argv.find((a) => !a.startsWith('-'));
  const wanted = modules.filter((m) => first !== undefined && m.verbs.includes(first));
  for (const m of wanted.length > 0 ? wanted : modules) (await m.load()).register(program, ctx);
}


/** Every verb name, in registration order (the bundle's test runs each one's help). */
export const VERBS: readonly string[] = modules.flatMap((m) => m.verbs);
