/**
 * What a conversion could not carry over exactly. Every instance setting, image feature or flag
 * without a Kubernetes equivalent is named here, and the CLI prints each on stderr: nothing is
 * dropped silently. Settings whose result would be wrong are errors instead (IsolaError).
 */
export class Warnings {
  private readonly seen = new Set<string>();
  readonly list: string[] = [];

  add(subject: string, text: string): void {
    const line = `${subject}: ${text}`;
    if (this.seen.has(line)) return;
    this.seen.add(line);
    this.list.push(line);
  }
}
