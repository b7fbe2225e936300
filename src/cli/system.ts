import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { printJson, withEngine } from './context.js';
import { renderTable } from './table.js';
import { formatBytes } from '../spec/units.js';
import { allocatedBytes } from '../util/fsx.js';
import { removeBridgeIfUnused } from '../net/bridge.js';
import { BRIDGE } from '../net/names.js';

export function register(program: Command): void {
  const system = program.command('system').description('disk usage and housekeeping of the data root');

  system
    .command('df')
    .description('disk space used by images, image caches (unpacked roots, VM root disks) and instances, in allocated bytes')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }) => {
      const rows = await withEngine(async (e) => {
        const instances = e.instances.list();
        return [
          { type: 'images', count: e.images().list().length, bytes: allocatedBytes(e.paths.images) },
          { type: 'image caches', count: countEntries(e.paths.cache), bytes: allocatedBytes(e.paths.cache) },
          { type: 'instances', count: instances.length, bytes: instances.reduce((a, r) => a + allocatedBytes(r.spec.dir), 0) },
        ];
      });
      if (o.json) return printJson(rows);
      process.stdout.write(renderTable(['TYPE', 'COUNT', 'SIZE'], rows.map((r) => [r.type, String(r.count), formatBytes(r.bytes)])));
    });

  system
    .command('prune')
    .description('remove exited instances, caches of images no longer stored, and the isola0 bridge when nothing uses it')
    .action(async () => {
      await withEngine(async (e) => {
        const exited = (await e.list(true)).filter((r) => r.state === 'exited');
        for (const r of exited) await e.remove(r.id, false);
        const keep = new Set(e.images().list().map((i) => i.digest.slice(7)));
        const inUse = new Set(e.instances.list().map((r) => r.imageDigest.slice(7)));
        let caches = 0;
        for (const sub of fs.existsSync(e.paths.cache) ? fs.readdirSync(e.paths.cache) : []) {
          const dir = path.join(e.paths.cache, sub);
          if (!fs.statSync(dir).isDirectory()) continue;
          for (const entry of fs.readdirSync(dir)) {
            const digest = entry.replace(/\..*$/, '');
            if (/^[a-f0-9]{64}$/.test(digest) && !keep.has(digest) && !inUse.has(digest)) {
              fs.rmSync(path.join(dir, entry), { recursive: true, force: true });
              caches++;
            }
          }
        }
        const bridge = await removeBridgeIfUnused(BRIDGE);
        process.stdout.write(`removed ${exited.length} exited instance(s), ${caches} stale image cache(s)${bridge ? `, bridge ${BRIDGE}` : ''}\n`);
      });
    });
}

function countEntries(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  return fs.readdirSync(dir).reduce((a, sub) => {
    const p = path.join(dir, sub);
    return a + (fs.statSync(p).isDirectory() ? fs.readdirSync(p).length : 1);
  }, 0);
}
