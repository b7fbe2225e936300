import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, processRef, signalProcess, type ProcessRef } from '../util/process.js';
import type { Config } from '../core/config.js';
import type { InstanceRecord } from '../state/instances.js';
import type { MachineRepo } from '../state/machines.js';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/isola.js');
const POLL_MS = 250;

/**
 * A machine's exit relay: conmon in the guest writes a container's exit status into the folder
 * the host shares with the machine, but cannot run isola's exit command on the host. One small
 * detached `isola _machine-watch ID` per running machine does: it sees a running container of
 * the machine exit (the driver's observe: its exit file, or the machine gone) and records it as
 * the exit command would (restart policy and --rm included). It ends with the machine.
 */
export function spawnMachineWatcher(config: Config, root: string, machineId: string): ProcessRef | null {
  const child = spawn(process.execPath, ['--max-old-space-size=32', '--max-semi-space-size=1', BIN, '_machine-watch', '--data-root', root, machineId], {
    detached: true, stdio: 'ignore', env: { ...config.env },
  });
  child.unref();
  return processRef(child.pid);
}

/** Ends a machine's watcher, as recorded (checked by its start time and command line). */
export function stopMachineWatcher(ref: ProcessRef | null | undefined): void {
  if (ref && processAlive(ref, { cmdlineIncludes: '_machine-watch' })) signalProcess(ref, 'SIGTERM', { cmdlineIncludes: '_machine-watch' });
}

export interface WatchEngine {
  instances: { list(): InstanceRecord[] };
  observeRunning(rec: InstanceRecord): Promise<boolean>;
  cleanupInstance(id: string): Promise<void>;
}

/** The watcher's loop: until the machine is removed or stops running. */
export async function watchMachine(engine: WatchEngine, machines: MachineRepo, machineId: string, machineRunning: () => Promise<boolean>): Promise<void> {
  for (;;) {
    const m = machines.get(machineId);
    const up = m !== undefined && m.state === 'running' && (await machineRunning());
    for (const r of engine.instances.list()) {
      if (r.spec.machine?.id !== machineId || r.state !== 'running') continue;
      // A foreground run without an exit command records its own exit (and removes a --rm
      // instance itself): the relay acting too raced it, which then found the instance gone.
      if (r.spec.cleanupCommand.length === 0) continue;
      if (!(await engine.observeRunning(r).catch(() => true))) await engine.cleanupInstance(r.id).catch(() => undefined);
    }
    if (!up) return;
    await sleep(POLL_MS);
  }
}
