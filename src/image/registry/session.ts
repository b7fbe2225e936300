import { IsolaError } from '../../core/errors.js';
import { parseReference, repositoryName, type Reference } from '../ref.js';
import { RegistryClient } from './client.js';
import { readCredentials } from './credentials.js';
import type { TransportOptions } from './transport.js';

/** What every registry verb is given besides the reference: --insecure, --tls-ca and where logins are kept. */
export interface RegistryOptions extends TransportOptions {
  credentialsFile: string;
}

/** A reference that names a registry, and a client for that registry with the stored login. */
export interface RemoteImage {
  ref: Reference & { host: string };
  /** host/repository, as messages and the store name it. */
  name: string;
  client: RegistryClient;
}

/**
 * Parses a reference for pull or push. A name without a registry host is a local name: there
 * is no default registry, so the user is told to name one instead of the image silently going
 * to (or coming from) a registry they did not pick.
 */
export function openRemote(text: string, verb: 'pull' | 'push', o: RegistryOptions): RemoteImage {
  const ref = parseReference(text);
  if (!ref.host) {
    throw new IsolaError('INVALID_ARGUMENT', `"${text}" names no registry, and isola has no default registry`,
      `name the registry host, for example isola ${verb} 127.0.0.1:5000/${text.replace(/^\/+/, '')}`);
  }
  const credentials = readCredentials(o.credentialsFile, ref.host);
  const client = new RegistryClient(ref.host, { ...o, ...(credentials ? { credentials } : {}) });
  return { ref: ref as RemoteImage['ref'], name: repositoryName(ref), client };
}
