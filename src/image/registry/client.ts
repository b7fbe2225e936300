import type { Readable } from 'node:stream';
import type { HttpResponse } from './http.js';
import { IsolaError } from '../../core/errors.js';
import { Authorizer } from './auth.js';
import { parseChallenges } from './challenge.js';
import type { Credentials } from './credentials.js';
import { httpError } from './errors.js';
import { Transport, type TransportOptions } from './transport.js';

export interface CallOptions {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  /** Token scopes this call needs (repository:NAME:pull,push). */
  scopes: string[];
  headers?: Record<string, string>;
  /** A body is made afresh for each try: the first try may meet a 401 and be sent again. */
  body?: () => Buffer | Readable;
  /** Statuses that are success for this call; anything else becomes a typed error. */
  ok: number[];
  /** Names the thing asked for in error messages ("manifest 127.0.0.1:5000/app:1"). */
  what: string;
  signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;
/** Registries log their clients; say which one this is. */
const USER_AGENT = `isola (node ${process.version})`;

/**
 * The Docker Registry HTTP API v2 / OCI distribution protocol for one registry host: every
 * call goes through `call`, which adds authorization, answers 401 challenges once, follows
 * redirects of reads (blob storage often lives elsewhere, and then gets no Authorization
 * header) and turns every unexpected status into a typed error.
 */
export class RegistryClient {
  readonly transport: Transport;
  private readonly auth: Authorizer;

  constructor(readonly host: string, opts: TransportOptions & { credentials?: Credentials } = {}) {
    this.transport = new Transport(host, opts);
    this.auth = new Authorizer(this.transport, opts.credentials);
  }

  async call(o: CallOptions): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const authz = await this.auth.header(o.scopes);
      const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...o.headers };
      if (authz) headers.authorization = authz;
      const res = await this.follow(o, headers);
      if (res.statusCode === 401 && attempt === 0) {
        const challenges = parseChallenges(String(res.headers['www-authenticate'] ?? ''));
        await res.body.dump();
        this.auth.learn(challenges, o.scopes, authz);
        const next = await this.auth.header(o.scopes);
        if (next && next !== authz) continue;
        throw httpError({ status: 401, body: '', headers: res.headers, what: o.what, host: this.host, hadCredentials: this.auth.hasCredentials });
      }
      if (!o.ok.includes(res.statusCode)) {
        const body = o.method === 'HEAD' ? '' : await res.body.text().catch(() => '');
        if (o.method === 'HEAD') await res.body.dump();
        throw httpError({ status: res.statusCode, body, headers: res.headers, what: o.what, host: this.host, hadCredentials: this.auth.hasCredentials });
      }
      return res;
    }
  }

  private async follow(o: CallOptions, headers: Record<string, string>): Promise<HttpResponse> {
    let url = o.url;
    const origin = await this.transport.origin();
    for (let hop = 0; ; hop++) {
      const sameHost = !/^https?:\/\//.test(url) || new URL(url).host === new URL(origin).host;
      const h = sameHost ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization'));
      const res = await this.transport.send({ method: o.method, url, headers: h, body: o.body?.(), signal: o.signal });
      const location = res.headers.location;
      const redirect = [301, 302, 303, 307, 308].includes(res.statusCode) && typeof location === 'string' && (o.method === 'GET' || o.method === 'HEAD');
      if (!redirect) return res;
      await res.body.dump();
      if (hop >= MAX_REDIRECTS) throw new IsolaError('UNAVAILABLE', `${this.host} redirected ${o.what} more than ${MAX_REDIRECTS} times`, 'the registry or its storage is misconfigured');
      url = new URL(location, /^https?:\/\//.test(url) ? url : `${origin}${url}`).toString();
    }
  }

  /** An absolute URL for a Location header, which registries give relative or absolute. */
  async resolveLocation(location: string | string[] | undefined, what: string): Promise<string> {
    if (typeof location !== 'string' || location === '') throw new IsolaError('UNAVAILABLE', `${this.host} gave no upload location for ${what}`, 'the registry does not follow the distribution protocol');
    return new URL(location, `${await this.transport.origin()}/`).toString();
  }

  /** GET /v2/: checks that the registry speaks the protocol and that the login (if any) is accepted. */
  async ping(): Promise<void> {
    const res = await this.call({ method: 'GET', url: '/v2/', scopes: [], ok: [200], what: 'the registry API (/v2/)' });
    await res.body.dump();
  }

  async close(): Promise<void> {
    await this.transport.close();
  }
}
