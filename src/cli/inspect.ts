import type { Command } from 'commander';
import { printJson, withEngine } from './context.js';
import type { InstanceRecord } from '../state/instances.js';
import { allocatedBytes } from '../util/fsx.js';
import { accelOf, statusText } from './ps.js';

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
    Config: { Cmd: s.argv, Env: s.env, WorkingDir: s.workdir, User: s.user, Hostname: s.hostname },
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
    },
    NetworkSettings: s.network.mode === 'bridge'
      ? { Mode: 'bridge', Bridge: s.network.bridge, IPAddress: s.network.ip, IPPrefixLen: s.network.prefixLength, Gateway: s.network.gateway, MacAddress: s.network.mac }
      : { Mode: 'none' },
    Disk: { InstanceAllocatedBytes: allocatedBytes(s.dir) },
    Driver: r.data,
  };
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description('print detailed information about instances, as JSON')
    .argument('<instance...>')
    .action(async (refs: string[]) => {
      const docs = await withEngine(async (e) => {
        await e.reconcile();
        return refs.map((ref) => inspectDoc(e.find(ref)));
      });
      printJson(docs);
    });
}
