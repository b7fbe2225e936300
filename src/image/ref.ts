import { invalid } from '../core/errors.js';

/**
 * Image references in Docker's grammar (distribution/reference): `[host[:port]/]path[:tag][@digest]`.
 * The first path component is a registry host only when it looks like one (has a dot or a port,
 * is `localhost`, or is a bracketed IPv6 address); otherwise the whole name is a local name.
 * isola has no default registry, so a name without a host never leaves this machine.
 */
export interface Reference {
  /** Registry host with optional port, as written (`127.0.0.1:5000`); absent for a local name. */
  host?: string;
  /** Repository path inside the registry (`team/app`). */
  repository: string;
  tag?: string;
  digest?: string;
}

/** A local image reference: name[:tag] (or name@digest), tag defaulting to latest (Docker's rule). */
export interface ImageRef {
  /** host/repository, or repository alone for a local name. */
  name: string;
  tag: string;
  /** Present for a reference by digest; the store names such an image `name@digest`. */
  digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?';
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]{1,5})?$`);

function bad(text: string): Error {
  return invalid(`invalid image reference "${text}"`, 'use lower-case [host[:port]/]name[:tag] or name@sha256:<64 hex>, for example 127.0.0.1:5000/app:1');
}

/** Does this first path component name a registry host (Docker's rule)? */
function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.startsWith('[');
}

export function parseReference(text: string): Reference {
  if (text.length === 0 || text.length > 512) throw bad(text);
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(text);
  }
  let tag: string | undefined;
  // A registry port (localhost:5000/x) puts a colon before the last slash; a tag's comes after.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(text);
  }
  let host: string | undefined;
  const slash = rest.indexOf('/');
  if (slash > 0 && looksLikeHost(rest.slice(0, slash))) {
    host = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
    if (!HOST.test(host)) throw bad(text);
  }
  if (!PATH.test(rest) || rest.length > 255) throw bad(text);
  return { ...(host ? { host } : {}), repository: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** host/repository, or the repository alone for a local name. */
export function repositoryName(r: Reference): string {
  return r.host ? `${r.host}/${r.repository}` : r.repository;
}

export function parseRef(text: string): ImageRef {
  const r = parseReference(text);
  return { name: repositoryName(r), tag: r.tag ?? 'latest', ...(r.digest ? { digest: r.digest } : {}) };
}

/**
 * The name the store keeps: `name:tag`, or `name@digest` for a reference by digest (a digest
 * names exactly one manifest, so it wins over a tag written beside it, as in Docker).
 */
export function formatRef(r: ImageRef): string {
  return r.digest ? `${r.name}@${r.digest}` : `${r.name}:${r.tag}`;
}

export function normalizeRef(text: string): string {
  return formatRef(parseRef(text));
}

/** Splits a stored name into the REPOSITORY and TAG columns of `isola images` (`<none>` for a digest). */
export function repoAndTag(stored: string): { repository: string; tag: string } {
  const at = stored.indexOf('@');
  if (at >= 0) return { repository: stored.slice(0, at), tag: '<none>' };
  const c = stored.lastIndexOf(':');
  return c > stored.lastIndexOf('/') ? { repository: stored.slice(0, c), tag: stored.slice(c + 1) } : { repository: stored, tag: 'latest' };
}
