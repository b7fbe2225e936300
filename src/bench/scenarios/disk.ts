import fs from 'node:fs';
import path from 'node:path';
import type { Kind } from '../../drivers/driver.js';
import type { MeasuredKind } from '../../spec/compare-result.js';
import { allocatedBytes } from '../../util/fsx.js';
import { summarize } from '../stats.js';
import type { Metric, ScenarioContext } from '../scenario.js';

/**
 * The engine's per-image cache folders (docs/ARCHITECTURE.md): what each kind derives from an
 * image once and shares between its instances. A kind not listed here is charged every cache
 * entry named after the image digest.
 */
const PER_IMAGE_CACHE: Partial<Record<Kind, string[]>> = {
  container: ['rootfs'], // the image unpacked once, the overlay's lower layer
  vm: ['vm-disks'], // the ext4 root disk built from the layers
  hybrid: ['vm-disks'],
};

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

function derived(ctx: ScenarioContext, kind: Kind): { bytes: number; apparent: number; entries: string[] } {
  const hex = ctx.lab.image.digest.replace(/^sha256:/, '');
  const cache = ctx.lab.engine.paths.cache;
  const folders = PER_IMAGE_CACHE[kind] ?? (fs.existsSync(cache) ? fs.readdirSync(cache) : []);
  let bytes = 0;
  let apparent = 0;
  const entries: string[] = [];
  for (const f of folders) {
    const dir = path.join(cache, f);
    if (!fs.existsSync(dir)) continue;
    for (const e of fs.readdirSync(dir)) {
      if (!e.includes(hex) || e.endsWith('.lock')) continue;
      const p = path.join(dir, e);
      bytes += allocatedBytes(p);
      const st = fs.statSync(p);
      if (st.isFile()) apparent += st.size;
      entries.push(path.relative(ctx.lab.engine.paths.root, p));
    }
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
    { id: 'disk_image_bytes', unit: 'bytes', kinds: image, notes: ['the image as stored (its blobs) plus what the kind derives from it once per image (container: the unpacked tree; VM: the ext4 root disk); allocated blocks, not apparent size'], extra },
    { id: 'disk_rootdisk_bytes', unit: 'bytes', kinds: root, notes: ['what the kind derives from the image once and shares between its instances: for a VM the root disk (sparse ext4; see extra for its apparent size), for a container the unpacked lower layer'] },
    { id: 'disk_instance_bytes', unit: 'bytes', kinds: inst, ...nm, notes: ['the instance\'s own folder after start, without crossing into its mounted root (du -x): overlay upper dir, bundle and logs for a container; qcow2 overlay, initrd with the instance config and console log for a VM'] },
  ];
}
