import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Engine } from '../engine/engine.js';
import type { InstanceRecord } from '../state/instances.js';
import { withNetLock } from '../net/bridge.js';
import { readTable, replaceOwnedRules, type TableState } from '../net/nft.js';
import { assertPortFree, protocolOf, type PortMapping } from '../net/publish.js';
import { LABEL, instanceName } from './plan.js';
import type { ServiceModel } from './model.js';

/**
 * A Compose service's fixed published ports ("8080:80") belong to the service, not to a replica
 * (docs/COMPOSE.md, "Published ports of a service"): one DNAT rule per port in isola's nftables
 * table, spread round-robin over the service's ready replicas and owned by a key of the service.
 * A rolling update moves it from an old replica to the new one in one nft transaction, so a
 * client of the port is always served; and several replicas can share one fixed port.
 */
export const frontKey = (project: string, service: string): string => createHash('sha256').update(`isola compose front\0${project}\0${service}`).digest('hex');

/** The service's ports with a fixed host port: published by the service. */
export const frontPorts = (s: ServiceModel): PortMapping[] => s.ports.filter((p) => p.hostPort !== 0);

/** Where an instance is reached (its address on its first network, or its machine's). */
export function reachOf(r: InstanceRecord): string | undefined {
  return r.spec.network.mode === 'bridge' ? r.spec.network.ip : r.spec.machine?.ip;
}

/** The addresses of the service's running replicas (those under their own names), in replica order. */
export function runningTargets(engine: Engine, project: string, service: string, except: ReadonlySet<string> = new Set()): string[] {
  const numLabel = LABEL.number;
  return engine.instances.list()
    .filter((r) => r.spec.labels?.[LABEL.project] === project && r.spec.labels[LABEL.service] === service && r.state === 'running' && !except.has(r.id))
    .filter((r) => r.name === instanceName(project, service, Number(r.spec.labels?.[numLabel] ?? 0)))
    .sort((a, b) => Number(a.spec.labels?.[numLabel] ?? 0) - Number(b.spec.labels?.[numLabel] ?? 0))
    .map(reachOf)
    .filter((ip): ip is string => ip !== undefined);
}

/**
 * The nftables table is the host's, shared by every data root; a data root knows its own
 * services' rules by a record each, `run/compose-fronts/<key>` ({project, service}), written
 * before the rule is and removed after it is gone, so `system prune` can remove a rule a killed
 * CLI left for a service that no longer has a running replica here (pruneFronts).
 */
const frontsDir = (engine: Engine): string => path.join(engine.paths.run, 'compose-fronts');

/**
 * Points the service's fixed ports at `targets` (none: the rules go). The first time a port is
 * published it is checked free (no other instance's rule, nothing of the host listening).
 */
export async function syncFront(engine: Engine, project: string, s: ServiceModel, targets: readonly string[]): Promise<void> {
  const key = frontKey(project, s.name);
  const record = path.join(frontsDir(engine), key);
  await withNetLock(async () => {
    const st = await readTable();
    const ports = targets.length > 0 ? frontPorts(s) : [];
    if (ports.length > 0) {
      fs.mkdirSync(frontsDir(engine), { recursive: true });
      fs.writeFileSync(record, `${JSON.stringify({ project, service: s.name })}\n`);
    }
    const others = st.publish.filter((p) => p.instanceId !== key);
    for (const p of ports) {
      if (!st.publish.some((x) => x.instanceId === key && x.hostPort === p.hostPort && x.protocol === protocolOf(p))) await assertPortFree(p, others);
    }
    if (ports.length > 0 || st.publish.some((p) => p.instanceId === key)) {
      await replaceOwnedRules(key, ports.map((p) => ({ protocol: protocolOf(p), hostIp: p.hostIp, hostPort: p.hostPort, targetIps: targets, targetPort: p.instancePort })), st);
    }
    if (ports.length === 0) fs.rmSync(record, { force: true });
  });
}

/**
 * `system prune`: the published-port rules of this data root's services. A service with no
 * running replica (a CLI killed between removing the replicas and the rule, or replicas removed
 * by hand) loses its rules and their record; one whose rules send to other addresses than its
 * running replicas (one removed by hand, a rollout recovered by prune) has them pointed at those
 * replicas, ports kept. A service a live rollout holds is left to it. Resolves with
 * "project/service" of each, in `removed` or `repointed`.
 */
export async function pruneFronts(engine: Engine, busy: (project: string) => boolean): Promise<{ removed: string[]; repointed: string[] }> {
  const done = { removed: [] as string[], repointed: [] as string[] };
  let names: string[];
  try {
    names = fs.readdirSync(frontsDir(engine));
  } catch {
    return done;
  }
  for (const key of names) {
    const record = path.join(frontsDir(engine), key);
    let owner: { project: string; service: string };
    try {
      owner = JSON.parse(fs.readFileSync(record, 'utf8')) as { project: string; service: string };
    } catch {
      continue;
    }
    if (frontKey(owner.project, owner.service) !== key || busy(owner.project)) continue;
    const name = `${owner.project}/${owner.service}`;
    await withNetLock(async () => {
      const st: TableState = await readTable();
      const rules = st.publish.filter((p) => p.instanceId === key);
      const targets = runningTargets(engine, owner.project, owner.service);
      if (targets.length === 0) {
        if (rules.length > 0) await replaceOwnedRules(key, [], st);
        fs.rmSync(record, { force: true });
        done.removed.push(name);
        return;
      }
      const same = (ips: readonly string[]) => [...ips].sort().join(' ') === [...targets].sort().join(' ');
      if (rules.every((r) => same(r.targetIps))) return;
      await replaceOwnedRules(key, rules.map((r) => ({ protocol: r.protocol, hostIp: r.hostIp, hostPort: r.hostPort, targetIps: targets, targetPort: r.targetPort })), st);
      done.repointed.push(name);
    });
  }
  return done;
}
