import fs from 'node:fs';
import path from 'node:path';
import { IsolaError } from '../../core/errors.js';
import { writeFileAtomic } from '../../util/fsx.js';

/**
 * Registry credentials in Docker's config.json (`{"auths": {"host:port": {"auth": base64(user:pass)}}}`),
 * at $DOCKER_CONFIG/config.json or ~/.docker/config.json, so `docker login` and `isola login`
 * read each other's logins. Every other key of the file (Docker's own settings) is kept as is.
 * The file is written 0600 in a 0700 folder, as Docker does: it holds passwords in base64.
 */
export interface Credentials {
  username: string;
  password: string;
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

function readConfig(file: string): DockerConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new IsolaError('PERMISSION_DENIED', `cannot read the credentials file ${file}: ${(e as Error).message}`, 'check its permissions, or point DOCKER_CONFIG at another folder');
  }
  if (text.trim() === '') return {};
  try {
    const doc = JSON.parse(text) as unknown;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc as DockerConfig;
  } catch (e) {
    throw new IsolaError('CORRUPT', `the credentials file ${file} is not valid JSON (${(e as Error).message})`, 'fix or remove it, then log in again');
  }
}

/**
 * Docker writes keys as `host:port`, older clients as `https://host:port/v1/` or with `/v2/`:
 * all name the same registry.
 */
export function registryKey(key: string): string {
  return key.replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '').toLowerCase();
}

export function readCredentials(file: string, host: string): Credentials | undefined {
  const cfg = readConfig(file);
  const want = registryKey(host);
  const entry = Object.entries(cfg.auths ?? {}).find(([k]) => registryKey(k) === want)?.[1];
  // Logins kept by a credential helper (credsStore, credHelpers) are not read: isola does not
  // run helpers, so such a registry is used anonymously until `isola login` stores a login here.
  if (!entry) return undefined;
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new IsolaError('CORRUPT', `the stored login for ${host} in ${file} is not base64 of user:password`, `log in again with isola login ${host}`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function writeConfig(file: string, cfg: DockerConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(cfg, null, '\t')}\n`, 0o600);
}

export function storeCredentials(file: string, host: string, creds: Credentials): void {
  const cfg = readConfig(file);
  const want = registryKey(host);
  const auths = Object.fromEntries(Object.entries(cfg.auths ?? {}).filter(([k]) => registryKey(k) !== want));
  auths[host] = { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') };
  writeConfig(file, { ...cfg, auths });
}

/** Removes every entry for `host`; false when there was none (Docker then says "Not logged in"). */
export function removeCredentials(file: string, host: string): boolean {
  const cfg = readConfig(file);
  const want = registryKey(host);
  const before = Object.keys(cfg.auths ?? {});
  const kept = before.filter((k) => registryKey(k) !== want);
  if (kept.length === before.length) return false;
  writeConfig(file, { ...cfg, auths: Object.fromEntries(kept.map((k) => [k, cfg.auths?.[k] ?? {}])) });
  return true;
}
