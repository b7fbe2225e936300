import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { HealthConfig } from '../../image/layout.js';

/** Docker's defaults when HEALTHCHECK leaves an option out (moby daemon/health.go). */
const DEFAULT_INTERVAL_S = 30;
const DEFAULT_TIMEOUT_S = 30;
const DEFAULT_RETRIES = 3;

const seconds = (ns: number | undefined, fallback: number) => (ns ? Math.max(1, Math.ceil(ns / 1e9)) : fallback);

/** An HTTP check of the workload itself: where Kubernetes can probe it without running a program. */
export interface HttpCheck {
  port: number;
  path: string;
}

const LOCAL = /^https?:\/\/(localhost|127\.0\.0\.1)(?::(\d+))?(\/[^\s'"]*)?$/;
/** Flags that only silence or discard output, or make a failed status an error: safe to drop. */
const HARMLESS = new Set(['-q', '--quiet', '--spider', '-f', '--fail', '-s', '--silent', '-S', '--show-error', '-fs', '-sf', '-fsS', '-sS', '-qO-', '-O-']);
const HARMLESS_WITH_VALUE = new Set(['-O', '-o', '--output']);

/**
 * Recognises `wget`/`curl` of http://localhost[:PORT]/PATH with only output-silencing flags
 * (`|| exit 1` allowed after it in the shell form): Kubernetes' httpGet probe does the same
 * without needing wget or curl in the image. Anything else stays an exec probe.
 */
export function httpCheckOf(test: string[]): HttpCheck | undefined {
  let argv: string[];
  if (test[0] === 'CMD') argv = test.slice(1);
  else if (test[0] === 'CMD-SHELL' && test[1] !== undefined) {
    const text = test[1].trim().replace(/\s*\|\|\s*exit\s+1$/, '');
    if (/[;&|`$<>(){}\\]/.test(text)) return undefined;
    argv = text.split(/\s+/).map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
  } else return undefined;
  const tool = argv[0]?.split('/').pop();
  if (tool !== 'wget' && tool !== 'curl') return undefined;
  let url: string | undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (HARMLESS.has(a)) continue;
    if (HARMLESS_WITH_VALUE.has(a)) {
      if (argv[i + 1] !== '-' && argv[i + 1] !== '/dev/null') return undefined;
      i++;
      continue;
    }
    if (url !== undefined || a.startsWith('-')) return undefined;
    url = a;
  }
  const m = url ? LOCAL.exec(url) : null;
  if (!m) return undefined;
  const port = m[2] ? Number(m[2]) : url?.startsWith('https') ? 443 : 80;
  if (url?.startsWith('https')) return undefined; // httpGet with HTTPS skips verification; wget/curl do not
  return { port, path: m[3] ?? '/' };
}

/** The probe action: httpGet where the check is a plain HTTP request to itself, else exec. */
export function probeAction(test: string[]): Pick<IProbe, 'exec' | 'httpGet'> | undefined {
  const http = httpCheckOf(test);
  if (http) return { httpGet: { path: http.path, port: http.port } };
  if (test[0] === 'CMD' && test.length > 1) return { exec: { command: test.slice(1) } };
  if (test[0] === 'CMD-SHELL' && test[1] !== undefined) return { exec: { command: ['/bin/sh', '-c', test[1]] } };
  return undefined; // NONE, or an empty test: no health check
}

/**
 * Docker's HEALTHCHECK as Kubernetes probes. Readiness is what Docker's health status means (an
 * unhealthy instance keeps running; a Service stops sending it traffic); liveness is what an
 * orchestrator adds (Swarm replaces an unhealthy task, Kubernetes restarts the container), after
 * the start period.
 */
export function probesOf(h: HealthConfig, action: Pick<IProbe, 'exec' | 'httpGet'>): { readinessProbe: IProbe; livenessProbe: IProbe } {
  const timing: IProbe = {
    periodSeconds: seconds(h.Interval, DEFAULT_INTERVAL_S),
    timeoutSeconds: seconds(h.Timeout, DEFAULT_TIMEOUT_S),
    failureThreshold: h.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
  };
  const start = h.StartPeriod ? seconds(h.StartPeriod, 0) : 0;
  return {
    readinessProbe: { ...action, ...timing },
    livenessProbe: { ...action, ...timing, ...(start > 0 ? { initialDelaySeconds: start } : {}) },
  };
}
