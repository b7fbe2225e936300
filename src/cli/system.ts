import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { renderTable } from './table.js';
import { formatBytes } from '../core/units.js';
import { allocatedBytes } from '../util/fsx.js';
import { removeBridgeIfUnused } from '../net/bridge.js';
import { Machines } from '../engine/machines.js';
import { BRIDGE } from '../net/names.js';
import { lifeOf } from '../state/instances.js';
import { sweepReceiveRoots } from '../bench/receive-root.js';
import { listSnapshots, pruneSnapshots } from '../engine/snapshots.js';
import { projectsWithAside, recoverIfIdle, rolloutInProgress } from '../compose/recover.js';
import { pruneFronts } from '../compose/front.js';

export function register(program: Command, ctx: CliContext): void {
  const system = program.command('system').description('disk usage and housekeeping of the data root');

  system
    .command('df')
    .description('disk space used by images, image caches (unpacked roots, VM root disks), instances and their snapshots, in allocated bytes')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await withEngine(ctx, async (e) => {
        const instances = e.instances.list();
        const snapshots = await listSnapshots(e);
        // A snapshot lives in its instance's folder (a copy) or disk (a VM's): counted once, as a snapshot.
        const kept = snapshots.reduce((a, s) => a + s.bytes, 0);
        return [
          { type: 'images', count: e.images().list().length, bytes: allocatedBytes(e.paths.images) },
          { type: 'image caches', count: e.cache.entries().length, bytes: allocatedBytes(e.paths.cache) },
          { type: 'instances', count: instances.length, bytes: Math.max(0, instances.reduce((a, r) => a + allocatedBytes(r.spec.dir), 0) - kept) },
          { type: 'snapshots', count: snapshots.length, bytes: kept },
        ];
      });
      if (o.json) return printJson(rows);
      process.stdout.write(renderTable(['TYPE', 'COUNT', 'SIZE'], rows.map((r) => [r.type, String(r.count), formatBytes(r.bytes)])));
    });

  system
    .command('boot')
    .description('after a reboot: bring back the instances whose restart policy says so (run once at boot; see contrib/systemd/isola-boot.service)')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const restarted = await withEngine(ctx, (e) => e.boot());
      if (o.json) return printJson(restarted.map((r) => ({ id: r.id, name: r.name, state: r.state })));
      for (const r of restarted) process.stdout.write(`${r.name}\n`);
    });

  system
    .command('prune')
    .description('remove exited instances (with their snapshots), caches of images no longer stored, user networks no instance is on, snapshots whose making was cut short, and the isola0 bridge when nothing uses it')
    .action(async () => {
      await withEngine(ctx, async (e) => {
        // A compose rollout a killed CLI left half-way: each replica finished or put back (compose/recover.ts).
        for (const project of projectsWithAside(e)) await recoverIfIdle(e, project, process.stdout);
        // An instance waiting for its restart is not stopped: prune leaves it, as Docker's does.
        const exited = (await e.list(true)).filter((r) => (r.state === 'exited' && !lifeOf(r).restart) || r.state === 'dead');
        for (const r of exited) await e.remove(r.id, false);
        // Machines: a half-made one (its creator died) goes with what it made; a dead one's tap and shares go.
        const machines = await new Machines(e).reconcile();
        const caches = e.pruneCaches().length;
        const snapshots = await pruneSnapshots(e);
        const networks = await e.networks.prune();
        // The other side of an interrupted compare's portability rows, when its compare is gone.
        const recv = await sweepReceiveRoots(e);
        // A service's published port (one DNAT rule): gone with its last running replica here, or
        // pointed again at the replicas that run (one removed by hand, a rollout recovered above).
        const fronts = await pruneFronts(e, (project) => rolloutInProgress(e, project));
        const bridge = await removeBridgeIfUnused(BRIDGE);
        process.stdout.write(`removed ${exited.length} exited instance(s), ${caches} stale image cache(s), ${networks.length} unused network(s), ${snapshots} orphaned snapshot(s)${recv ? `, ${recv} receiving data root(s) of an interrupted compare` : ''}${fronts.removed.length ? `, the published ports of service(s) ${fronts.removed.join(', ')}` : ''}${fronts.repointed.length ? `, the published ports of service(s) ${fronts.repointed.join(', ')} pointed at their running replicas` : ''}${bridge ? `, bridge ${BRIDGE}` : ''}${machines.length ? `, settled machine(s) ${machines.join(', ')}` : ''}\n`);
      });
    });
}
