import fs from 'node:fs';
import type { Router, Call } from './router.js';
import { badRequest } from './errors.js';
import { readJson, sendJson } from './http.js';
import { latestReportPath } from '../bench/latest-report.js';
import { renderTable } from '../bench/render-table.js';
import { parseMeasured, type Measured } from '../advise/measured.js';
import { parseInventory } from '../advise/load-inventory.js';
import { plan } from '../advise/plan.js';
import { renderPlanText } from '../advise/render-plan.js';
import { isIsolaError } from '../core/errors.js';

/**
 * The dashboard's advice: the latest `isola compare` report (bench/latest-report.ts), and
 * `isola plan` of an inventory the page sends, the same code as the CLI (advise/plan.ts), with
 * the latest compare report's figures as `--measured` when there is one.
 */

function latest(c: Call): { file: string; text: string; measured: Measured; when: string } | null {
  const file = latestReportPath(c.api.engine.config.root);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return { file, text, measured: parseMeasured(text, file), when: fs.statSync(file).mtime.toISOString() };
}

/** GET /dashboard/compare: `{"report": null, "path"}` before any compare, else its table as the CLI prints it. */
function compareReport(c: Call): void {
  const r = latest(c);
  if (!r) return sendJson(c.res, 200, { report: null, path: latestReportPath(c.api.engine.config.root) });
  sendJson(c.res, 200, { report: { when: r.when, path: r.file, accelerator: r.measured.accelerator, text: renderTable(r.measured.result, { color: false }) } });
}

/** POST /dashboard/plan {"inventory": "YAML or JSON"}: isola plan's text and JSON, or `{"error"}` in one line for a bad inventory. */
async function planInventory(c: Call): Promise<void> {
  const body = await readJson(c.req);
  if (typeof body.inventory !== 'string' || body.inventory.trim() === '') throw badRequest('give {"inventory": "..."}: a workload inventory, YAML or JSON (docs/ADVISE.md)');
  const measured = latest(c)?.measured;
  try {
    const report = plan({ host: undefined, reservedBytes: undefined, flagAssumptions: {}, measured, inventory: parseInventory(body.inventory, 'the inventory') });
    sendJson(c.res, 200, { text: renderPlanText(report), report, measured: measured !== undefined });
  } catch (e) {
    // 200 with the reason: a failed load would be logged by the browser as an error of the page.
    if (isIsolaError(e)) return sendJson(c.res, 200, { error: e.oneLine().split('\n')[0] ?? 'invalid inventory' });
    throw e;
  }
}

export function register(r: Router): void {
  r.add('GET', '/dashboard/compare', compareReport)
    .add('POST', '/dashboard/plan', planInventory);
}
