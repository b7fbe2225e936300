import { Document } from 'yaml';
import type { Manifest } from './model.js';

/**
 * Manifests as one multi-document YAML stream, each object under its comment. Objects are written
 * without YAML anchors (a label map used twice is written twice), as kubectl users expect.
 */
export function renderYaml(manifests: Manifest[], header: string[] = []): string {
  const docs = manifests.map((m, i) => {
    const doc = new Document(m.object, { aliasDuplicateObjects: false });
    const lines = [...(i === 0 ? header : []), ...(m.comment ?? [])];
    // On the root mapping, not the document: the comment then sits right above the object.
    if (lines.length && doc.contents) doc.contents.commentBefore = lines.map((l) => ` ${l}`).join('\n');
    return doc.toString({ lineWidth: 0 });
  });
  return docs.map((d) => `---\n${d}`).join('');
}
