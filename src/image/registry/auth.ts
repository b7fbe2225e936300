import type { HttpResponse } from './http.js';
import { IsolaError } from '../../core/errors.js';
import type { Challenge } from './challenge.js';
import type { Credentials } from './credentials.js';
import { httpError } from './errors.js';
import type { Transport } from './transport.js';

/** A repository scope of the token protocol: `repository:team/app:pull,push`. */
export function repositoryScope(repository: string, actions: ('pull' | 'push')[]): string {
  return `repository:${repository}:${actions.join(',')}`;
}

/**
 * The authorization a registry asks for, learnt from its first 401 challenge: nothing
 * (anonymous), Basic (the login itself on every request) or Bearer (a token per set of scopes
 * from the challenge's realm, Docker's token protocol, with the login as Basic when there is one).
 */
export class Authorizer {
  private challenge?: Challenge;
  private readonly tokens = new Map<string, string>();

  constructor(private readonly transport: Transport, private readonly creds: Credentials | undefined) {}

  get hasCredentials(): boolean {
    return this.creds !== undefined;
  }

  /** The Authorization header for these scopes, if the registry is known to want one. */
  async header(scopes: string[]): Promise<string | undefined> {
    const c = this.challenge;
    if (!c) return undefined;
    if (c.scheme === 'basic') return this.basic();
    const key = [...scopes].sort().join(' ');
    let token = this.tokens.get(key);
    if (!token) {
      token = await this.fetchToken(c, scopes);
      this.tokens.set(key, token);
    }
    return `Bearer ${token}`;
  }

  /**
   * Takes a 401's challenges. The token a refused request carried is dropped, so the caller's
   * next `header()` fetches a new one; a caller retries only when that differs from what it sent
   * (requests running in parallel all meet the first 401, and each may retry once).
   */
  learn(challenges: Challenge[], scopes: string[], sent: string | undefined): void {
    const c = challenges.find((x) => x.scheme === 'bearer') ?? challenges.find((x) => x.scheme === 'basic');
    if (!c) return;
    this.challenge = c;
    const key = [...scopes].sort().join(' ');
    if (sent && sent === `Bearer ${this.tokens.get(key)}`) this.tokens.delete(key);
  }

  private basic(): string | undefined {
    return this.creds ? `Basic ${Buffer.from(`${this.creds.username}:${this.creds.password}`).toString('base64')}` : undefined;
  }

  private async fetchToken(c: Challenge, scopes: string[]): Promise<string> {
    const realm = c.params.realm;
    if (!realm) throw new IsolaError('UNAVAILABLE', `${this.transport.host} asked for a bearer token but named no realm`, 'the registry is misconfigured; check its auth settings');
    const url = new URL(realm);
    if (c.params.service) url.searchParams.set('service', c.params.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (this.creds) url.searchParams.set('account', this.creds.username);
    const headers: Record<string, string> = {};
    const basic = this.basic();
    if (basic) headers.authorization = basic;
    const res: HttpResponse = await this.transport.send({ method: 'GET', url: url.toString(), headers });
    const body = await res.body.text();
    if (res.statusCode !== 200) {
      throw httpError({ status: res.statusCode, body, headers: res.headers, what: `a token (${scopes.join(' ') || 'login'})`, host: this.transport.host, hadCredentials: this.creds !== undefined });
    }
    let doc: { token?: string; access_token?: string };
    try {
      doc = JSON.parse(body) as typeof doc;
    } catch {
      throw new IsolaError('UNAVAILABLE', `the token service of ${this.transport.host} answered with something other than JSON`, 'the registry\'s auth service is misconfigured');
    }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new IsolaError('UNAVAILABLE', `the token service of ${this.transport.host} returned no token`, 'the registry\'s auth service is misconfigured');
    return token;
  }
}
