import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import type { InstanceRecord } from '../state/instances.js';
import { allocatedBytes } from '../util/fsx.js';
import { accelOf, statusText } from './ps.js';
import { protocolOf } from '../net/publish.js';
import { measureSecurity } from '../security/gather.js';
import { renderProfile } from '../security/render.js';

/** Docker-shaped inspect output, plus isola's kind, accelerator and disk usage. */
export function inspectDoc(r: InstanceRecord) {
  const s = r.spec;
  return {
    Id: r.id,
    Name: r.name,
    Kind: r.kind,
    Accelerator: accelOf(r),
    Created: r.createdAt,
    Image: r.imageRef,
    ImageDigest: r.imageDigest,
    State: {
      Status: r.state,
      Running: r.state === 'running',
      ExitCode: r.exitCode,
      OOMKilled: r.oomKilled,
      StartedAt: r.startedAt,
      FinishedAt: r.finishedAt,
      Description: statusText(r),
      Pid: (r.data as { pid?: number }).pid ?? null,
    },
    Config: {
      Cmd: s.argv, Env: s.env, WorkingDir: s.workdir, User: s.user, Hostname: s.hostname,
      Tty: s.tty === true, OpenStdin: s.stdinOpen === true, StdinOnce: s.stdinOnce === true,
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
            out.push(await measureSecurity(e.driver(rec.kind), rec));
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
