import { IsolaError, type ErrorCode } from '../../core/errors.js';

/** The registry's own error document (distribution spec: `{"errors":[{code, message}]}`). */
export function registryErrorText(body: string): string | undefined {
  try {
    const doc = JSON.parse(body) as { errors?: { code?: string; message?: string; detail?: unknown }[] };
    const e = doc.errors?.[0];
    if (!e) return undefined;
    return [e.code?.toLowerCase().replace(/_/g, ' '), e.message].filter((x, i, a) => x && a.indexOf(x) === i).join(': ');
  } catch {
    return undefined;
  }
}

export interface HttpFailure {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** What was asked for, for the message: "manifest 127.0.0.1:5000/app:1". */
  what: string;
  host: string;
  /** Whether the request carried credentials (a 401 then means they are wrong). */
  hadCredentials: boolean;
}

/** One HTTP status of the registry protocol, as a typed one-line error with the fix. */
export function httpError(f: HttpFailure): IsolaError {
  const said = registryErrorText(f.body);
  const detail = said ? ` (${said})` : '';
  const mk = (code: ErrorCode, msg: string, hint: string) => new IsolaError(code, msg, hint);
  switch (true) {
    case f.status === 401:
      return f.hadCredentials
        ? mk('PERMISSION_DENIED', `${f.host} refused the stored credentials for ${f.what} (401 unauthorized)${detail}`, `log in again with isola login ${f.host}`)
        : mk('PERMISSION_DENIED', `${f.host} requires authentication for ${f.what} (401 unauthorized)${detail}`, `log in first with isola login ${f.host}`);
    case f.status === 403:
      return mk('PERMISSION_DENIED', `${f.host} denied access to ${f.what} (403 forbidden)${detail}`, `log in as a user allowed to use it with isola login ${f.host}`);
    case f.status === 404:
      return mk('NOT_FOUND', `${f.what} not found on ${f.host} (404${said ? `, ${said}` : ''})`, 'check the repository name and tag; the registry has no such manifest or blob');
    case f.status === 429: {
      const retry = f.headers['retry-after'];
      return mk('UNAVAILABLE', `${f.host} is rate limiting requests for ${f.what} (429 too many requests)${detail}`, `wait${retry ? ` ${String(retry)} s` : ''} and try again`);
    }
    case f.status >= 500:
      return mk('UNAVAILABLE', `${f.host} failed to serve ${f.what} (${f.status} server error)${detail}`, 'try again later; the registry itself is failing');
    default:
      return mk('UNAVAILABLE', `${f.host} answered ${f.status} for ${f.what}${detail}`, 'check the reference; the registry refused the request');
  }
}

/** Node's TLS verification codes that mean "the certificate is not trusted here". */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

/** The code of a network error, looking through wrapped causes (an abort's, a TLS socket's). */
export function errorCode(e: unknown): string {
  let cur = e as { code?: unknown; cause?: unknown } | undefined;
  for (let i = 0; cur && i < 4; i++, cur = cur.cause as typeof cur) {
    if (typeof cur.code === 'string' && cur.code !== 'UND_ERR' && !cur.code.startsWith('UND_ERR_SOCKET')) return cur.code;
  }
  return typeof (e as { code?: unknown })?.code === 'string' ? String((e as { code: string }).code) : '';
}

export function isCertificateError(e: unknown): boolean {
  const c = errorCode(e);
  return UNTRUSTED.has(c) || c.startsWith('CERT_') || c === 'ERR_TLS_CERT_ALTNAME_INVALID';
}

/** A server that answers a TLS handshake with plain HTTP bytes. */
export function isNotTls(e: unknown): boolean {
  const c = errorCode(e);
  return c === 'ERR_SSL_WRONG_VERSION_NUMBER' || c === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || c === 'EPROTO';
}

/** Errors worth another try of the same request (a resumed download, say). */
export function isTransient(e: unknown): boolean {
  if (e instanceof IsolaError) return e.code === 'UNAVAILABLE' && /server error|rate limiting|reset|closed/.test(e.message);
  return ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CLOSED'].includes(errorCode(e));
}

/** A failure below HTTP (connect, TLS, DNS, timeouts), as a typed one-line error with the fix. */
export function networkError(e: unknown, host: string): IsolaError {
  if (e instanceof IsolaError) return e;
  const code = errorCode(e);
  const msg = (e as Error)?.message ?? String(e);
  const mk = (c: ErrorCode, m: string, hint: string) => new IsolaError(c, m, hint, { cause: e });
  if (code === 'ECONNREFUSED') return mk('UNAVAILABLE', `cannot connect to registry ${host}: connection refused`, 'check that the registry is running and that host and port are right');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return mk('UNAVAILABLE', `registry host ${host} cannot be resolved (${code})`, 'check the host name in the reference');
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return mk('UNAVAILABLE', `TLS: the certificate of ${host} is not valid for that name`, 'use the host name the certificate names, or have the certificate reissued with it as subjectAltName');
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return mk('UNAVAILABLE', `TLS: the certificate of ${host} is outside its validity period (${code})`, 'renew the registry\'s certificate or fix this host\'s clock');
  if (isCertificateError(e)) return mk('UNAVAILABLE', `TLS: the certificate of ${host} is signed by an unknown authority (${code})`, 'pass the registry\'s CA certificate with --tls-ca FILE (or --insecure to skip verification)');
  if (isNotTls(e)) return mk('UNAVAILABLE', `${host} does not speak TLS (${code})`, 'if it is a plain-HTTP registry you trust, pass --insecure');
  if (code.includes('TIMEOUT')) return mk('TIMEOUT', `registry ${host} did not answer in time (${code})`, 'check the network and the registry, then try again');
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED' || code === 'EPIPE') return mk('UNAVAILABLE', `the connection to ${host} was reset or closed (${msg})`, 'try again; an interrupted download resumes where it stopped');
  return mk('UNAVAILABLE', `cannot reach registry ${host}: ${msg}${code ? ` (${code})` : ''}`, 'check the network and the registry');
}
