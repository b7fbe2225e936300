import type { Readable, Writable } from 'node:stream';
import type { AttachIO, AttachSession, BridgeNetworkSpec, Capability, ExecOptions, ExitInfo, InstanceSpec, LogEntry, Observed, PathKind, ProcessInfo, ResourceUpdate, Stats, StoredData } from '../../core/types.js';
import type { Driver, DriverContext, LogsOptions, SnapshotRef, SnapshotWhile, StartAttach } from '../driver.js';
import { IsolaError } from '../../core/errors.js';
import { HybridDriver } from '../hybrid/driver.js';
import type { HybridData } from '../hybrid/persist.js';
import { PlacedDriver, type PlacedData } from './placed.js';

type Data = HybridData | PlacedData;
const placed = (d: Data): d is PlacedData => (d as PlacedData).placed === 1;

/**
 * The hybrid kind: a container inside a VM. Its own VM (HybridDriver, one VM per container), or,
 * with `--machine`, a machine's VM that hosts many (PlacedDriver). The spec's `machine` field
 * decides at create; the stored data says which afterwards.
 */
export class HybridKind implements Driver<Data> {
  readonly kind = 'hybrid' as const;
  private readonly own: HybridDriver;
  private readonly inMachine: PlacedDriver;

  constructor(ctx: DriverContext) {
    this.own = new HybridDriver(ctx);
    this.inMachine = new PlacedDriver(ctx);
  }

  decode(stored: StoredData): Data | null {
    return stored.placed === 1 ? this.inMachine.decode(stored) : this.own.decode(stored);
  }

  probe(): Promise<Capability> {
    return this.own.probe();
  }

  create(spec: InstanceSpec): Promise<Data> {
    return spec.machine ? this.inMachine.create(spec) : this.own.create(spec);
  }

  start(spec: InstanceSpec, d: Data, checkpoint?: (data: Data) => void, attach?: StartAttach): Promise<Data> {
    return placed(d) ? this.inMachine.start(spec, d, checkpoint, attach) : this.own.start(spec, d, checkpoint, attach);
  }

  attach(spec: InstanceSpec, d: Data, io: AttachIO): Promise<AttachSession> {
    return placed(d) ? this.inMachine.attach(spec, d, io) : this.own.attach(spec, d, io);
  }

  observe(spec: InstanceSpec, d: Data): Promise<Observed> {
    return placed(d) ? this.inMachine.observe(spec, d) : this.own.observe(spec, d);
  }

  wait(spec: InstanceSpec, d: Data): Promise<ExitInfo> {
    return placed(d) ? this.inMachine.wait(spec, d) : this.own.wait(spec, d);
  }

  stop(spec: InstanceSpec, d: Data, timeoutSec: number): Promise<void> {
    return placed(d) ? this.inMachine.stop(spec, d, timeoutSec) : this.own.stop(spec, d, timeoutSec);
  }

  kill(spec: InstanceSpec, d: Data, signal: string): Promise<void> {
    return placed(d) ? this.inMachine.kill(spec, d, signal) : this.own.kill(spec, d, signal);
  }

  cleanup(spec: InstanceSpec, d: Data | null): Promise<void> {
    if (d ? placed(d) : spec.machine) return this.inMachine.cleanup(spec, d && placed(d) ? d : null);
    return this.own.cleanup(spec, d && !placed(d) ? d : null);
  }

  remove(spec: InstanceSpec, d: Data | null): Promise<void> {
    if (d ? placed(d) : spec.machine) return this.inMachine.remove(spec, d && placed(d) ? d : null);
    return this.own.remove(spec, d && !placed(d) ? d : null);
  }

  exec(spec: InstanceSpec, d: Data, argv: string[], opts: ExecOptions): Promise<number> {
    return placed(d) ? this.inMachine.exec(spec, d, argv, opts) : this.own.exec(spec, d, argv, opts);
  }

  logs(spec: InstanceSpec, d: Data, opts: LogsOptions): AsyncIterable<LogEntry> {
    return placed(d) ? this.inMachine.logs(spec, d, opts) : this.own.logs(spec, d, opts);
  }

  stats(spec: InstanceSpec, d: Data): Promise<Stats> {
    return placed(d) ? this.inMachine.stats(spec, d) : this.own.stats(spec, d);
  }

  pause(spec: InstanceSpec, d: Data): Promise<void> {
    return placed(d) ? this.inMachine.pause(spec, d) : this.own.pause(spec, d);
  }

  resume(spec: InstanceSpec, d: Data): Promise<void> {
    return placed(d) ? this.inMachine.resume(spec, d) : this.own.resume(spec, d);
  }

  update(spec: InstanceSpec, d: Data, change: ResourceUpdate, running: boolean): Promise<Data> {
    return placed(d) ? this.inMachine.update(spec) : this.own.update(spec, d, change, running);
  }

  top(spec: InstanceSpec, d: Data): Promise<ProcessInfo[]> {
    return placed(d) ? this.inMachine.top(spec, d) : this.own.top(spec, d);
  }

  runOnWorkloadKernel(spec: InstanceSpec, d: Data, script: string): Promise<string> {
    return placed(d) ? this.inMachine.runOnWorkloadKernel(spec, d, script) : this.own.runOnWorkloadKernel(spec, d, script);
  }

  statPath(spec: InstanceSpec, d: Data, p: string, follow: boolean): Promise<PathKind> {
    return placed(d) ? this.inMachine.statPath(spec, d, p, follow) : this.own.statPath(spec, d, p, follow);
  }

  copyOut(spec: InstanceSpec, d: Data, p: string, out: Writable, opts: { follow: boolean }): Promise<void> {
    return placed(d) ? this.inMachine.copyOut(spec, d, p, out, opts) : this.own.copyOut(spec, d, p, out, opts);
  }

  copyIn(spec: InstanceSpec, d: Data, dir: string, input: Readable, opts: { owner?: { uid: number; gid: number } }): Promise<void> {
    return placed(d) ? this.inMachine.copyIn(spec, d, dir, input, opts) : this.own.copyIn(spec, d, dir, input, opts);
  }

  // A container in a machine gets and loses interfaces while it runs (networks.ts); a hybrid's
  // own VM cannot (its NICs are fixed at boot): a created one gets them at its start.
  async attachNetwork(spec: InstanceSpec, d: Data, net: BridgeNetworkSpec): Promise<void> {
    if (placed(d)) return this.inMachine.attachNetwork(spec, d, net);
    await this.ownRunning(spec, d, 'connect');
  }

  async detachNetwork(spec: InstanceSpec, d: Data, net: BridgeNetworkSpec, newFirst: BridgeNetworkSpec | null): Promise<void> {
    if (placed(d)) return this.inMachine.detachNetwork(spec, d, net, newFirst);
    await this.ownRunning(spec, d, 'disconnect');
  }

  private async ownRunning(spec: InstanceSpec, d: HybridData, verb: string): Promise<void> {
    if ((await this.own.observe(spec, d)).state !== 'running') return;
    throw new IsolaError('FAILED_PRECONDITION', `instance ${spec.name} is a running hybrid: a VM's network interfaces are fixed while it runs (the microvm machine has no device hotplug)`, `stop it, ${verb} it, then start it again`);
  }

  refreshEtc(spec: InstanceSpec, d: Data): Promise<void> {
    return placed(d) ? this.inMachine.refreshEtc(spec) : this.own.refreshEtc(spec, d);
  }

  // A placed container's writable layer is a folder on its machine's disk, which other
  // containers share: a disk snapshot would take them all, so it is refused with the way out.
  private noSnapshots(spec: InstanceSpec): Promise<never> {
    return Promise.reject(new IsolaError('FAILED_PRECONDITION', `snapshots are not available for ${spec.name}, a container in machine ${spec.machine?.name ?? ''}: its files lie on the machine's disk with other containers'`, 'copy what it holds out with isola cp, or run it as its own hybrid (without --machine) to snapshot it'));
  }

  snapshotCreate(spec: InstanceSpec, d: Data, snap: SnapshotRef, now: SnapshotWhile): Promise<{ bytes: number }> {
    return placed(d) ? this.noSnapshots(spec) : this.own.snapshotCreate(spec, d, snap, now);
  }

  snapshotRestore(spec: InstanceSpec, d: Data, snap: SnapshotRef): Promise<void> {
    return placed(d) ? this.noSnapshots(spec) : this.own.snapshotRestore(spec, d, snap);
  }

  snapshotRemove(spec: InstanceSpec, d: Data, snap: SnapshotRef, now: SnapshotWhile): Promise<void> {
    return placed(d) ? Promise.resolve() : this.own.snapshotRemove(spec, d, snap, now);
  }
}
