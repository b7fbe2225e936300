import type { Command } from 'commander';
import { printJson, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import { formatBytes } from '../core/units.js';
import { pathsFor } from '../core/paths.js';
import { ImageStore } from '../image/store.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { normalizeRef } from '../image/ref.js';

export interface HistoryRow {
  /** The image id (config digest) on the newest row, as Docker shows it; null on the others. */
  id: string | null;
  created: string | null;
  createdBy: string;
  /** Stored (compressed) size of the layer this step made; 0 for a step that made none. */
  size: number;
  comment: string;
  emptyLayer: boolean;
}

/**
 * The image config's history, newest first, each step that made a layer paired with that
 * layer in order (steps marked empty_layer made none), as `docker history` does.
 */
export function historyRows(store: ImageStore, ref: string): HistoryRow[] {
  const { manifest, config } = store.manifestOf(ref);
  const layers = [...manifest.layers];
  const steps = config.history ?? [];
  const rows: HistoryRow[] = steps.map((h) => {
    const layer = h.empty_layer ? undefined : layers.shift();
    return { id: null, created: h.created ?? null, createdBy: h.created_by ?? '', size: layer?.size ?? 0, comment: h.comment ?? '', emptyLayer: Boolean(h.empty_layer) };
  });
  // Layers no history step accounts for (images built without history) still show.
  for (const l of layers) rows.push({ id: null, created: null, createdBy: '', size: l.size, comment: '', emptyLayer: false });
  rows.reverse();
  if (rows[0]) rows[0].id = manifest.config.digest;
  return rows;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('history')
    .description('show the steps an image was built by, newest first (from its config\'s history)')
    .argument('<image>')
    .option('--json', 'print JSON')
    .option('--no-trunc', 'do not shorten the commands')
    .option('-q, --quiet', 'only print the image id')
    .action(async (ref: string, o: { json?: boolean; trunc: boolean; quiet?: boolean }) => {
      const s = new ImageStore(pathsFor(ctx.config.root).images);
      if (normalizeRef(ref) === BASE_REF) await ensureBaseImage(s);
      const rows = historyRows(s, ref);
      if (o.json) return printJson(rows);
      const id = (r: HistoryRow) => (r.id ? (o.trunc ? r.id.slice(7, 19) : r.id) : '<missing>');
      if (o.quiet) return void process.stdout.write(rows.map((r) => `${id(r)}\n`).join(''));
      const by = (s: string) => (o.trunc && s.length > 45 ? `${s.slice(0, 44)}…` : s);
      process.stdout.write(renderTable(['IMAGE', 'CREATED', 'CREATED BY', 'SIZE', 'COMMENT'],
        rows.map((r) => [id(r), ago(r.created), by(r.createdBy), formatBytes(r.size), r.comment])));
    });
}
