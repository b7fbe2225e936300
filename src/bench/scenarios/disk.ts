import fs from 'node:fs';
import path from 'node:path';
import type { Kind } from '../../core/types.js';
import type { MeasuredKind } from '../../core/compare-result.js';
import { allocatedBytes } from '../../util/fsx.js';
import { DERIVED_BY_KIND } from '../../core/cache-layout.js';
import { summarize } from '../stats.js';
import type { Metric, ScenarioContext } from '../scenario.js';

function imageBlobs(ctx: ScenarioContext): number {
  const img = ctx.lab.image;
  const blobDir = path.dirname(img.layers[0] ?? '');
  const digests = [img.digest, ...img.layerDigests];
  // The config blob is named in the manifest; count every blob the manifest refers to.
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(blobDir, img.digest.slice(7)), 'utf8')) as { config?: { digest?: string } };
    if (manifest.config?.digest) digests.push(manifest.config.digest);
  } catch {
    /* layers are what matters */
  }
  return [...new Set(digests)].reduce((a, d) => a + allocatedBytes(path.join(blobDir, d.replace(/^sha256:/, ''))), 0);
}

/** What the kind derives from the image once and shares between instances, as the cache layout records it. */
function derived(ctx: ScenarioContext, kind: Kind): { bytes: number; apparent: number; entries: string[] } {
  let bytes = 0;
  let apparent = 0;
  const entries: string[] = [];
  for (const e of ctx.lab.engine.cache.entriesFor(ctx.lab.image.digest, DERIVED_BY_KIND[kind])) {
    bytes += allocatedBytes(e.path);
    const st = fs.statSync(e.path);
    if (st.isFile()) apparent += st.size;
    entries.push(path.relative(ctx.lab.engine.paths.root, e.path));
  }
  return { bytes, apparent, entries };
}

/** Disk space, in allocated blocks: deterministic, so one sample per kind. */
export function disk(ctx: ScenarioContext): Metric[] {
  ctx.progress.step('disk: allocated bytes of the image, root disks and instances');
  const blobs = imageBlobs(ctx);
  const image: Metric['kinds'] = {};
  const root: Metric['kinds'] = {};
  const inst: Metric['kinds'] = {};
  const notMeasured: Partial<Record<MeasuredKind, string>> = {};
  const extra: Record<string, unknown> = { imageBlobsBytes: blobs };
  for (const kind of ctx.kinds) {
    const d = derived(ctx, kind);
    image[kind] = summarize([blobs + d.bytes]);
    root[kind] = summarize([d.bytes]);
    extra[`${kind}.perImage`] = { allocatedBytes: d.bytes, apparentBytes: d.apparent, entries: d.entries };
    const rec = ctx.probes.get(kind);
    if (rec) inst[kind] = summarize([allocatedBytes(rec.spec.dir)]);
    else notMeasured[kind] = 'no probe instance';
  }
  const nm = Object.keys(notMeasured).length ? { notMeasured } : {};
  return [
    { id: 'disk_image_bytes', unit: 'bytes', kinds: image, notes: ['the image as stored (its blobs) plus what the kind derives from it once per image (container: the unpacked tree; VM: the ext4 root disk; hybrid: its root disk with the guest system, and the unpacked tree it resolves users in); allocated blocks, not apparent size'], extra },
    { id: 'disk_rootdisk_bytes', unit: 'bytes', kinds: root, notes: ['what the kind derives from the image once and shares between its instances: for a VM the root disk (sparse ext4; see extra for its apparent size), for a container the unpacked lower layer'] },
    { id: 'disk_instance_bytes', unit: 'bytes', kinds: inst, ...nm, notes: ['the instance\'s own folder after start, without crossing into its mounted root (du -x): overlay upper dir, bundle and logs for a container; qcow2 overlay, initrd with the instance config and console log for a VM'] },
  ];
}
