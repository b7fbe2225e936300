import { IsolaError, invalid } from '../core/errors.js';
import type { Descriptor } from './layout.js';

/** An OCI platform: `os/arch[/variant]`, as `--platform` spells it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** What isola runs: every kind (runc on the host, QEMU x86_64 guests) is linux/amd64. */
export const HOST_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const WORD = /^[a-z0-9_]+$/;

export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || !parts.every((p) => WORD.test(p))) {
    throw invalid(`invalid platform "${text}"`, 'use os/arch[/variant], for example linux/amd64 or linux/arm64/v8');
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return { os, architecture, ...(variant ? { variant } : {}) };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/**
 * Does an image's platform satisfy the wanted one? A wanted variant must match; an image that
 * names no variant matches any (as containerd's matcher treats arm64 without v8).
 */
export function platformMatches(have: Partial<Platform> | undefined, want: Platform): boolean {
  if (!have || have.os !== want.os || have.architecture !== want.architecture) return false;
  return !want.variant || !have.variant || have.variant === want.variant;
}

/**
 * Picks the manifest for `want` from an index's entries. Entries without a platform (attestations
 * and other artifacts carry `unknown/unknown` or none) never match.
 */
export function selectManifest(entries: Descriptor[], want: Platform, what: string): Descriptor {
  const found = entries.find((d) => platformMatches(d.platform, want));
  if (found) return found;
  const offered = entries.map((d) => (d.platform ? formatPlatform(d.platform) : undefined)).filter((p) => p && p !== 'unknown/unknown');
  throw new IsolaError('NOT_FOUND', `no manifest for ${formatPlatform(want)} in ${what} (it offers ${offered.length > 0 ? offered.join(', ') : 'no platform'})`,
    'pick one it offers with --platform; isola runs linux/amd64 images');
}

/** Refuses a single-platform image built for another platform, naming both. */
export function assertPlatform(have: Partial<Platform>, want: Platform, what: string): void {
  if (platformMatches(have, want)) return;
  throw new IsolaError('FAILED_PRECONDITION', `${what} is for ${formatPlatform({ os: have.os ?? '?', architecture: have.architecture ?? '?', ...(have.variant ? { variant: have.variant } : {}) })}, not ${formatPlatform(want)}`,
    'pull an image built for this platform (or a multi-platform one), or name the platform with --platform');
}
