import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

/**
 * Finds the line of a value (or of a key) in a YAML or JSON text, so that errors can say
 * "workloads.yaml:12". Parsing with positions is slow on big inventories (about a second for
 * 10,000 workloads), so callers parse fast first and come here only when they have an error.
 */
export class SourcePositions {
  private readonly lines = new LineCounter();
  private readonly doc: Document;

  constructor(text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lines });
  }

  /** Line (1-based) of the node at `path`; with `key`, of that key inside the map at `path`. */
  lineOf(path: (string | number)[], key?: string): number | undefined {
    let node: unknown = this.doc.contents;
    let line = this.lineOfNode(node);
    for (const seg of path) {
      node = child(node, seg);
      if (node === undefined) return line;
      line = this.lineOfNode(node) ?? line;
    }
    if (key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
      if (pair && isScalar(pair.key)) return this.lineOfNode(pair.key) ?? line;
    }
    return line;
  }

  private lineOfNode(node: unknown): number | undefined {
    const range = (node as Node | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }
}

function child(node: unknown, seg: string | number): unknown {
  if (isSeq(node) && typeof seg === 'number') return node.items[seg];
  if (isMap(node)) {
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
    return pair?.value ?? undefined;
  }
  return undefined;
}
