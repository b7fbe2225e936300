import fs from 'node:fs';
import tls from 'node:tls';
import { Agent, request, type Dispatcher } from 'undici';
import { IsolaError } from '../../core/errors.js';
import { isCertificateError, networkError } from './errors.js';

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

/**
 * One registry's connections: an undici Agent (keep-alive, TLS verified against the system
 * CA store plus --tls-ca) and the scheme, found once. HTTPS always comes first; plain HTTP is
 * used only for --insecure and loopback registries, and only when the server does not speak
 * TLS at all: a certificate problem is never a reason to fall back.
 */
export class Transport {
  private readonly agent: Agent;
  private base?: Promise<string>;

  constructor(readonly host: string, private readonly opts: TransportOptions = {}) {
    const ca = [...systemCertificates()];
    if (opts.tlsCa) {
      try {
        ca.push(fs.readFileSync(opts.tlsCa, 'utf8'));
      } catch (e) {
        throw new IsolaError('INVALID_ARGUMENT', `cannot read --tls-ca ${opts.tlsCa}: ${(e as Error).message}`, 'give the path of the registry\'s CA certificate (PEM)');
      }
    }
    this.agent = new Agent({
      connect: { ca, rejectUnauthorized: !opts.insecure },
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
      connections: 8,
    });
  }

  /** `https://host` or, for an insecure or loopback registry that has no TLS, `http://host`. */
  origin(): Promise<string> {
    this.base ??= this.probe();
    return this.base;
  }

  private async probe(): Promise<string> {
    const https = `https://${this.host}`;
    if (!this.opts.insecure && !isLoopback(this.host)) return https;
    try {
      const res = await request(`${https}/v2/`, { method: 'GET', dispatcher: this.agent, headersTimeout: 10_000 });
      await res.body.dump();
      return https;
    } catch (e) {
      if (isCertificateError(e)) throw networkError(e, this.host);
      return `http://${this.host}`;
    }
  }

  async send(req: Request): Promise<Dispatcher.ResponseData> {
    const url = req.url.startsWith('http://') || req.url.startsWith('https://') ? req.url : `${await this.origin()}${req.url}`;
    try {
      return await request(url, {
        method: req.method,
        headers: req.headers ?? {},
        body: req.body as Buffer | undefined,
        dispatcher: this.agent,
        signal: req.signal,
      });
    } catch (e) {
      if (req.signal?.aborted) throw req.signal.reason;
      throw networkError(e, this.host);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
