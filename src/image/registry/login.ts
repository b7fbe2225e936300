import { IsolaError, invalid } from '../../core/errors.js';
import { RegistryClient } from './client.js';
import { registryKey, removeCredentials, storeCredentials, type Credentials } from './credentials.js';
import type { RegistryOptions } from './session.js';

const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;

/** `HOST`, `HOST:PORT` or a URL as Docker accepts it (`https://host:port/v2/`), as the key Docker stores. */
export function parseRegistryHost(text: string): string {
  const host = registryKey(text.trim());
  if (!HOST.test(host)) throw invalid(`"${text}" is not a registry host`, 'give host[:port], for example 127.0.0.1:5000');
  return host;
}

/**
 * `isola login`: checks the login against the registry (GET /v2/, answering its Basic or
 * Bearer challenge with it) and only then stores it, so a wrong password is never saved.
 */
export async function login(hostText: string, creds: Credentials, o: RegistryOptions): Promise<string> {
  const host = parseRegistryHost(hostText);
  const client = new RegistryClient(host, { ...o, credentials: creds });
  try {
    await client.ping();
  } catch (e) {
    if (e instanceof IsolaError && e.code === 'PERMISSION_DENIED') {
      throw new IsolaError('PERMISSION_DENIED', `login to ${host} failed: incorrect username or password`, 'check them and try again; nothing was stored', { cause: e });
    }
    throw e;
  } finally {
    await client.close();
  }
  storeCredentials(o.credentialsFile, host, creds);
  return host;
}

/** `isola logout`: false when there was no login for that host. */
export function logout(hostText: string, credentialsFile: string): { host: string; removed: boolean } {
  const host = parseRegistryHost(hostText);
  return { host, removed: removeCredentials(credentialsFile, host) };
}
