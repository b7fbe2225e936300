import fs from 'node:fs';
import tls from 'node:tls';
import { IsolaError } from '../../core/errors.js';
import { isCertificateError, networkError } from './errors.js';
import { httpRequest, makeAgents, type Agents, type HttpResponse } from './http.js';

/** How to reach one registry: `--insecure` and `--tls-ca` of the CLI. */
export interface TransportOptions {
  /** Plain HTTP allowed, and TLS certificates not verified (Docker's insecure-registries, podman's --tls-verify=false). */
  insecure?: boolean;
  /** A PEM file of CA certificates trusted for this registry, besides the system's. */
  tlsCa?: string;
}

const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
let systemCas: string[] | undefined;

/**
 * The system's CA store (Debian's ca-certificates bundle, which an administrator extends with
 * update-ca-certificates), not only the Mozilla list compiled into Node.
 */
function systemCertificates(): string[] {
  if (!systemCas) {
    try {
      systemCas = [fs.readFileSync(SYSTEM_BUNDLE, 'utf8')];
    } catch {
      systemCas = [...tls.rootCertificates];
    }
  }
  return systemCas;
}

/**
 * Docker treats loopback registries as insecure (plain HTTP allowed): a registry on this
 * machine's loopback cannot be reached by anyone in between.
 */
export function isLoopback(host: string): boolean {
  const h = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export interface Request {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A path (`/v2/...`) on this registry, or an absolute URL it handed out (upload locations, redirects). */
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | NodeJS.ReadableStream;
  signal?: AbortSignal;
}

/** undici's former defaults, kept: a registry silent this long is not coming back. */
const IDLE_TIMEOUT_MS = 60_000;
const PROBE_TIMEOUT_MS = 10_000;

/**
 * One registry's connections: keep-alive agents (TLS verified against the system CA store plus
 * --tls-ca) and the scheme, found once. HTTPS comes first, except on loopback; plain HTTP is
 * used only for --insecure and loopback registries, and only when the server does not speak
 * TLS at all: a certificate problem is never a reason to fall back.
 */
export class Transport {
  private readonly agents: Agents;
  private base?: Promise<string>;

  constructor(readonly host: string, private readonly opts: TransportOptions = {}) {
    let extra: string | undefined;
    if (opts.tlsCa) {
      try {
        extra = fs.readFileSync(opts.tlsCa, 'utf8');
      } catch (e) {
        throw new IsolaError('INVALID_ARGUMENT', `cannot read --tls-ca ${opts.tlsCa}: ${(e as Error).message}`, 'give the path of the registry\'s CA certificate (PEM)');
      }
    }
    this.agents = makeAgents({ ca: () => [...systemCertificates(), ...(extra ? [extra] : [])], rejectUnauthorized: !opts.insecure });
  }

  /** `https://host` or, for an insecure or loopback registry that has no TLS, `http://host`. */
  origin(): Promise<string> {
    this.base ??= this.probe();
    return this.base;
  }

  private request(url: string, o: { method: string; headers?: Record<string, string>; body?: Buffer | NodeJS.ReadableStream | undefined; signal?: AbortSignal | undefined }, idleTimeoutMs = IDLE_TIMEOUT_MS): Promise<HttpResponse> {
    const agent = url.startsWith('https:') ? this.agents.https() : this.agents.http;
    return httpRequest(url, agent, { method: o.method, headers: o.headers ?? {}, body: o.body, signal: o.signal, idleTimeoutMs });
  }

  private async probe(): Promise<string> {
    const https = `https://${this.host}`;
    if (!this.opts.insecure && !isLoopback(this.host)) return https;
    // On loopback nobody is in between, and most registries there are plain HTTP: ask in plain
    // HTTP first, which spares a TLS handshake. A TLS server answers that with 400 ("client
    // sent an HTTP request to an HTTPS server") or hangs up; then HTTPS it is.
    if (isLoopback(this.host) && (await this.speaksPlainHttp())) return `http://${this.host}`;
    try {
      const res = await this.request(`${https}/v2/`, { method: 'GET' }, PROBE_TIMEOUT_MS);
      await res.body.dump();
      return https;
    } catch (e) {
      if (isCertificateError(e)) throw networkError(e, this.host);
      return `http://${this.host}`;
    }
  }

  private async speaksPlainHttp(): Promise<boolean> {
    try {
      const res = await this.request(`http://${this.host}/v2/`, { method: 'GET' }, PROBE_TIMEOUT_MS);
      const body = res.statusCode === 400 ? await res.body.text() : (await res.body.dump(), '');
      return !(res.statusCode === 400 && /https|tls|ssl/i.test(body));
    } catch {
      return false;
    }
  }

  async send(req: Request): Promise<HttpResponse> {
    const url = req.url.startsWith('http://') || req.url.startsWith('https://') ? req.url : `${await this.origin()}${req.url}`;
    try {
      return await this.request(url, { method: req.method, headers: req.headers, body: req.body, signal: req.signal });
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason;
      throw networkError(e, this.host);
    }
  }

  async close(): Promise<void> {
    this.agents.destroy();
  }
}
