import { invalid } from '../core/errors.js';

/** A local image reference: name[:tag], tag defaulting to latest (Docker's rule). */
export interface ImageRef {
  name: string;
  tag: string;
}

const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function parseRef(text: string): ImageRef {
  // A registry host with a port (localhost:5000/x) has a colon before the last slash.
  const slash = text.lastIndexOf('/');
  const colon = text.lastIndexOf(':');
  const hasTag = colon > slash;
  const name = hasTag ? text.slice(0, colon) : text;
  const tag = hasTag ? text.slice(colon + 1) : 'latest';
  const nameToCheck = name.replace(/^[a-zA-Z0-9.-]+(:\d+)?\//, (m) => (m.includes('.') || m.includes(':') || m.startsWith('localhost') ? '' : m));
  if (!NAME.test(nameToCheck) || !TAG.test(tag)) {
    throw invalid(`invalid image reference "${text}"`, 'use lower-case name[:tag], for example myimage:1');
  }
  return { name, tag };
}

export function formatRef(r: ImageRef): string {
  return `${r.name}:${r.tag}`;
}

export function normalizeRef(text: string): string {
  return formatRef(parseRef(text));
}
