import fs from 'node:fs';
import { IsolaError } from '../../core/errors.js';
import type { InstanceSpec } from '../../core/types.js';

/** The default profile: containers-common's, the one Podman and CRI-O apply (Docker's lineage). */
export const DEFAULT_SECCOMP = '/usr/share/containers/seccomp.json';

interface DockerRule {
  names?: string[];
  name?: string;
  action: string;
  args?: unknown[];
  errnoRet?: number;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

interface DockerProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  archMap?: { architecture: string; subArchitectures?: string[] }[];
  architectures?: string[];
  syscalls?: DockerRule[];
}

export interface OciSeccomp {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures: string[];
  syscalls: { names: string[]; action: string; args?: unknown[]; errnoRet?: number }[];
}

/**
 * Turns a Docker/containers-common profile into the OCI runtime spec's form for one container:
 * rules conditioned on capabilities or architectures are kept only when they apply, exactly as
 * Docker does when it builds the spec.
 */
export function toOciSeccomp(profile: DockerProfile, caps: string[], arch = 'amd64'): OciSeccomp {
  const arches = profile.archMap
    ? profile.archMap.filter((a) => a.architecture === 'SCMP_ARCH_X86_64').flatMap((a) => [a.architecture, ...(a.subArchitectures ?? [])])
    : (profile.architectures ?? []);
  const applies = (r: DockerRule): boolean => {
    const inc = r.includes ?? {};
    const exc = r.excludes ?? {};
    if (inc.caps?.length && !inc.caps.every((c) => caps.includes(c))) return false;
    if (inc.arches?.length && !inc.arches.includes(arch)) return false;
    if (exc.caps?.length && exc.caps.some((c) => caps.includes(c))) return false;
    if (exc.arches?.length && exc.arches.includes(arch)) return false;
    return true;
  };
  const syscalls = (profile.syscalls ?? []).filter(applies).map((r) => ({
    names: r.names ?? (r.name ? [r.name] : []),
    action: r.action,
    ...(r.args && r.args.length ? { args: r.args } : {}),
    ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
  }));
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: arches,
    syscalls,
  };
}

/** Loads a profile file, with a one-line error when it is missing or does not parse. */
export function loadSeccompProfile(file: string): DockerProfile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new IsolaError('NOT_FOUND', `seccomp profile "${file}" not found`, 'give the path of a JSON seccomp profile, or seccomp=unconfined');
  }
  let doc: DockerProfile;
  try {
    doc = JSON.parse(text) as DockerProfile;
  } catch (e) {
    throw new IsolaError('INVALID_ARGUMENT', `seccomp profile "${file}" is not valid JSON: ${(e as Error).message}`, 'fix the file or use the default profile');
  }
  if (typeof doc.defaultAction !== 'string') {
    throw new IsolaError('INVALID_ARGUMENT', `seccomp profile "${file}" has no defaultAction`, 'a profile needs at least {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [...]}');
  }
  return doc;
}

/** How many syscall names a profile's rules name (for the security profile). */
export function countFilteredSyscalls(p: OciSeccomp): number {
  return p.syscalls.reduce((a, s) => a + s.names.length, 0);
}

/**
 * The seccomp section an instance's security settings ask for, with the rules its capabilities
 * open: none when privileged or unconfined, else Docker's default profile or the one named.
 */
export function seccompFor(security: InstanceSpec['security'], caps: string[]): OciSeccomp | null {
  if (security.privileged || security.seccomp === 'unconfined') return null;
  return toOciSeccomp(loadSeccompProfile(security.seccomp === 'default' ? DEFAULT_SECCOMP : security.seccomp), caps);
}
