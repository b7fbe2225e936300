import type { Command } from 'commander';
import { machineSharing } from '../security/machine.js';
import { printJson, withEngine, type CliContext } from './context.js';
import { lifeOf, type InstanceRecord } from '../state/instances.js';
import { formatRestartPolicy } from '../engine/restart-policy.js';
import { DEFAULT_STOP_TIMEOUT_S } from '../engine/engine.js';
import { allocatedBytes } from '../util/fsx.js';
import { accelOf, dockerState, statusText } from './ps.js';
import { protocolOf } from '../net/publish.js';
import { measureSecurity } from '../security/gather.js';
import { renderProfile } from '../security/render.js';

/** The kernel a VM or hybrid instance booted, as its driver data records it (null for a container). */
function guestKernelOf(r: InstanceRecord): string | null {
  const d = r.data as { kernelVersion?: unknown; vm?: { kernelVersion?: unknown } };
  const v = (d.vm ?? d).kernelVersion;
  return typeof v === 'string' && v !== '' ? v : null;
}

/** Docker-shaped inspect output, plus isola's kind, accelerator, guest kernel and disk usage. */
export function inspectDoc(r: InstanceRecord) {
  const s = r.spec;
  const life = lifeOf(r);
  const ns = (ms: number) => ms * 1e6;
  const health = s.health && life.health
    ? {
        Status: life.health.status,
        FailingStreak: life.health.failingStreak,
        Log: life.health.log.map((l) => ({ Start: l.start, End: l.end, ExitCode: l.exitCode, Output: l.output })),
      }
    : null;
  return {
    Id: r.id,
    Name: r.name,
    Kind: r.kind,
    // A container placed in a machine (run --machine): the machine it lives in.
    ...(r.spec.machine ? { Machine: { Id: r.spec.machine.id, Name: r.spec.machine.name, IP: r.spec.machine.ip } } : {}),
    Accelerator: accelOf(r),
    // VM and hybrid: the guest kernel the VM booted (its release, and isola's, Debian's cloud kernel or custom).
    ...(guestKernelOf(r) ? { GuestKernel: guestKernelOf(r) } : {}),
    Created: r.createdAt,
    Image: r.imageRef,
    ImageDigest: r.imageDigest,
    RestartCount: life.restartCount,
    State: {
      Status: dockerState(r),
      Running: r.state === 'running',
      Paused: life.paused,
      Restarting: life.restart !== null,
      ...(life.restart ? { RestartDue: life.restart.due } : {}),
      ExitCode: r.exitCode,
      OOMKilled: r.oomKilled,
      StartedAt: r.startedAt,
      FinishedAt: r.finishedAt,
      Description: statusText(r),
      Pid: (r.data as { pid?: number }).pid ?? null,
      ...(health ? { Health: health } : {}),
    },
    Config: {
      Cmd: s.argv, Env: s.env, WorkingDir: s.workdir, User: s.user, Hostname: s.hostname,
      Tty: s.tty === true, OpenStdin: s.stdinOpen === true, StdinOnce: s.stdinOnce === true,
      Labels: s.labels ?? {},
      StopSignal: s.stopSignal ?? 'SIGTERM',
      StopTimeout: s.stopTimeout ?? DEFAULT_STOP_TIMEOUT_S,
      ...(s.health
        ? { Healthcheck: { Test: s.health.test, Interval: ns(s.health.intervalMs), Timeout: ns(s.health.timeoutMs), StartPeriod: ns(s.health.startPeriodMs), StartInterval: ns(s.health.startIntervalMs), Retries: s.health.retries } }
        : {}),
    },
    HostConfig: {
      Memory: s.memoryBytes ?? 0,
      NanoCpus: s.cpus ? Math.round(s.cpus * 1e9) : 0,
      PidsLimit: s.pidsLimit ?? null,
      ReadonlyRootfs: s.readOnly,
      AutoRemove: r.autoRemove,
      Runtime: s.runtime || null,
      Privileged: s.security.privileged,
      CapAdd: s.security.capAdd,
      CapDrop: s.security.capDrop,
      SecurityOpt: [`seccomp=${s.security.seccomp}`, `no-new-privileges=${s.security.noNewPrivileges}`],
      RestartPolicy: { Name: s.restart?.name ?? 'no', MaximumRetryCount: s.restart?.maxRetries ?? 0, Text: formatRestartPolicy(s.restart) },
      Init: !!s.init,
      Ulimits: (s.ulimits ?? []).map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
      Devices: (s.devices ?? []).map((d) => ({ PathOnHost: d.hostPath, PathInContainer: d.containerPath, CgroupPermissions: d.permissions })),
      LogConfig: { Type: 'k8s-file', Config: s.logMaxBytes ? { 'max-size': String(s.logMaxBytes) } : {} },
      ExtraHosts: (s.extraHosts ?? []).map((h) => `${h.host}:${h.ip}`),
      Dns: s.dns?.servers ?? [],
      DnsSearch: s.dns?.search ?? [],
      DnsOptions: s.dns?.options ?? [],
    },
    NetworkSettings: s.network.mode === 'bridge'
      ? {
        Mode: s.network.networkName ?? 'bridge', Bridge: s.network.bridge, IPAddress: s.network.ip, IPPrefixLen: s.network.prefixLength, Gateway: s.network.gateway, MacAddress: s.network.mac,
        Networks: Object.fromEntries([s.network, ...(s.moreNetworks ?? [])].map((n) => [n.networkName ?? 'bridge', {
          NetworkID: n.networkId ?? 'bridge', Interface: n.ifname ?? 'eth0', Bridge: n.bridge, IPAddress: n.ip, IPPrefixLen: n.prefixLength, Gateway: n.gateway, MacAddress: n.mac,
        }])),
        Ports: Object.fromEntries(r.ports.map((p) => [`${p.instancePort}/${protocolOf(p)}`, [{ HostIp: p.hostIp, HostPort: String(p.hostPort) }]])),
      }
      : { Mode: 'none', Networks: {}, Ports: {} },
    Mounts: (s.mounts ?? []).map((m) => (m.type === 'tmpfs'
      ? { Type: 'tmpfs', Destination: m.target, RW: !m.readOnly, ...(m.sizeBytes ? { SizeBytes: m.sizeBytes } : {}), ...(m.mode !== undefined ? { Mode: m.mode.toString(8) } : {}) }
      : { Type: m.type, ...(m.volume ? { Name: m.volume } : {}), Source: m.source, Destination: m.target, RW: !m.readOnly, Propagation: m.propagation })),
    Disk: { InstanceAllocatedBytes: allocatedBytes(s.dir) },
    Driver: r.data,
  };
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('print detailed information about instances, as JSON')
    .argument('<instance...>')
    .option('--security', 'measure the running instance\'s isolation: kernel, namespaces, capabilities, seccomp, limits, and a hardening checklist')
    .option('--json', 'with --security: print the profile as JSON')
    .action(async (refs: string[], o: { security?: boolean; json?: boolean }) => {
      if (o.security) {
        const profiles = await withEngine(ctx, async (e) => {
          await e.reconcile();
          const out = [];
          for (const ref of refs) {
            const rec = e.find(ref);
            const profile = await measureSecurity(e.driver(rec.kind), rec);
            const m = rec.spec.machine;
            if (m) profile.machine = machineSharing(m, e.instances.list().filter((r) => r.spec.machine?.id === m.id && r.id !== rec.id).map((r) => r.name), rec.spec.network.mode === 'bridge' ? rec.spec.network.ip : null, rec.spec.network.mode === 'bridge' ? rec.spec.network.networkName ?? 'bridge' : 'bridge');
            out.push(profile);
          }
          return out;
        });
        if (o.json) printJson(profiles);
        else process.stdout.write(profiles.map(renderProfile).join('\n'));
        return;
      }
      const docs = await withEngine(ctx, async (e) => {
        await e.reconcile();
        return refs.map((ref) => inspectDoc(e.find(ref)));
      });
      printJson(docs);
    });
}
