import fs from 'node:fs';
import path from 'node:path';
import type { Kind, ResolvedImage } from '../../core/types.js';
import type { MeasuredKind } from '../../core/compare-result.js';
import type { Engine } from '../../engine/engine.js';
import type { InstanceRecord } from '../../state/instances.js';
import { allocatedBytes } from '../../util/fsx.js';
import { DERIVED_BY_KIND } from '../../core/cache-layout.js';
import { summarize } from '../stats.js';
import type { Metric } from '../scenario.js';

/** The allocated bytes of every blob an image's manifest names (manifest, config, layers). */
export function imageBlobs(image: ResolvedImage): number {
  const blobDir = path.dirname(image.layers[0] ?? '');
  const digests = [image.digest, ...image.layerDigests];
  // The config blob is named in the manifest; count every blob the manifest refers to.
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(blobDir, image.digest.slice(7)), 'utf8')) as { config?: { digest?: string } };
    if (manifest.config?.digest) digests.push(manifest.config.digest);
  } catch {
    /* layers are what matters */
  }
  return [...new Set(digests)].reduce((a, d) => a + allocatedBytes(path.join(blobDir, d.replace(/^sha256:/, ''))), 0);
}

/** What the kind derives from the image once and shares between instances, as the cache layout records it. */
function derived(engine: Engine, image: ResolvedImage, kind: Kind): { bytes: number; apparent: number; entries: string[] } {
  let bytes = 0;
  let apparent = 0;
  const entries: string[] = [];
  for (const e of engine.cache.entriesFor(image.digest, DERIVED_BY_KIND[kind])) {
    bytes += allocatedBytes(e.path);
    const st = fs.statSync(e.path);
    if (st.isFile()) apparent += st.size;
    entries.push(path.relative(engine.paths.root, e.path));
  }
  return { bytes, apparent, entries };
}

/** An instance's own folder, without crossing into its mounted root (du -x). */
export const instanceBytes = (rec: InstanceRecord): number => allocatedBytes(rec.spec.dir);

/**
 * Disk space of the workload's image, in allocated blocks: sizes are the same every time they
 * are read, so the image counts once and each instance once (several instances per kind).
 */
export function disk(engine: Engine, image: ResolvedImage, kinds: readonly Kind[], instances: Map<Kind, number[]>): Metric[] {
  const blobs = imageBlobs(image);
  const img: Metric['kinds'] = {};
  const root: Metric['kinds'] = {};
  const inst: Metric['kinds'] = {};
  const notMeasured: Partial<Record<MeasuredKind, string>> = {};
  const extra: Record<string, unknown> = { image: image.ref, imageBlobsBytes: blobs };
  for (const kind of kinds) {
    const d = derived(engine, image, kind);
    img[kind] = summarize([blobs + d.bytes]);
    root[kind] = summarize([d.bytes]);
    extra[`${kind}.perImage`] = { allocatedBytes: d.bytes, apparentBytes: d.apparent, entries: d.entries };
    const sizes = instances.get(kind) ?? [];
    if (sizes.length) inst[kind] = summarize(sizes);
    else notMeasured[kind] = 'no instance of this image was measured';
  }
  const nm = Object.keys(notMeasured).length ? { notMeasured } : {};
  const common = { unit: 'bytes', deterministic: true };
  return [
    { id: 'disk_image_bytes', ...common, kinds: img, sample: 'the image, read once', notes: [`${image.ref} as stored (its blobs) plus what the kind derives from it once per image (container: the unpacked tree; VM: the ext4 root disk; hybrid: its root disk with the guest system, and the unpacked tree it resolves users in; full-OS VM: its whole disk); allocated blocks, not apparent size`], extra },
    { id: 'disk_rootdisk_bytes', ...common, kinds: root, sample: 'the image, read once', notes: ['what the kind derives from the image once and shares between its instances: for a VM the root disk (sparse ext4; see extra for its apparent size), for a container the unpacked lower layer, for the full-OS VM its whole disk (qcow2)'] },
    { id: 'disk_instance_bytes', ...common, kinds: inst, ...nm, sample: 'one instance, read once after start', notes: ['the instance\'s own folder after start, without crossing into its mounted root (du -x): overlay upper dir, bundle and logs for a container; qcow2 overlay, initrd with the instance config and console log for a VM'] },
  ];
}
