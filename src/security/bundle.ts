import fs from 'node:fs';
import path from 'node:path';

/** The seccomp filter an OCI runtime was given, summarised from the bundle's config.json. */
export interface SeccompRules {
  file: string;
  defaultAction: string;
  /** Syscall names with a rule of their own (the kernel filters every syscall; these are named). */
  named: number;
  allowed: number;
  /** Named with another action than allow (errno, kill, trace, log), often with argument conditions. */
  restricted: number;
}

/**
 * Where an instance has an OCI bundle (containers, and the in-guest container of a hybrid),
 * its config.json is kept at <instance dir>/bundle/config.json: the rules the runtime loaded.
 */
export function bundleConfigPath(instanceDir: string): string {
  return path.join(instanceDir, 'bundle', 'config.json');
}

export function readSeccompRules(instanceDir: string): SeccompRules | null {
  const file = bundleConfigPath(instanceDir);
  let doc: { linux?: { seccomp?: { defaultAction?: string; syscalls?: { names?: string[]; action?: string }[] } } };
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof doc;
  } catch {
    return null;
  }
  const sc = doc.linux?.seccomp;
  if (!sc) return null;
  let allowed = 0;
  let restricted = 0;
  const names = new Set<string>();
  for (const r of sc.syscalls ?? []) {
    for (const n of r.names ?? []) {
      names.add(n);
      if (r.action === 'SCMP_ACT_ALLOW') allowed++;
      else restricted++;
    }
  }
  return { file, defaultAction: sc.defaultAction ?? '?', named: names.size, allowed, restricted };
}
