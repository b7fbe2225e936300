import fs from 'node:fs';
import path from 'node:path';
import type { CompareResult } from '../core/compare-result.js';

/**
 * The latest `isola compare` result, kept in the data root (`compare/latest.json`, the JSON of
 * `--json`, docs/COMPARE-FORMAT.md) so the dashboard can show it. Written whole (a temporary
 * file renamed over it), after every complete compare run.
 */
export function latestReportPath(root: string): string {
  return path.join(root, 'compare', 'latest.json');
}

export function saveLatestReport(root: string, result: CompareResult): string {
  const file = latestReportPath(root);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const part = `${file}.part-${process.pid}`;
  fs.writeFileSync(part, `${JSON.stringify(result, null, 2)}\n`, { mode: 0o644 });
  fs.renameSync(part, file);
  return file;
}
