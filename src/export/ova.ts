import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { IsolaError, invalid } from '../core/errors.js';

/**
 * An OVA: a USTAR tar whose first member is the OVF descriptor, then the disks, then a `.mf`
 * manifest with each file's SHA-256 (DSP0243 §5: the descriptor first, the manifest last).
 */
export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(fs.createReadStream(file), h);
  return h.digest('hex');
}

export async function packOva(out: string, dir: string, ovf: string, disks: string[]): Promise<void> {
  const base = path.basename(ovf, '.ovf');
  const mf = `${base}.mf`;
  const lines: string[] = [];
  for (const f of [ovf, ...disks]) lines.push(`SHA256(${f})= ${await sha256File(path.join(dir, f))}`);
  fs.writeFileSync(path.join(dir, mf), `${lines.join('\n')}\n`);
  const { create } = await import('tar');
  // portable + noPax: plain USTAR headers, no owner names, no PAX records, as OVF readers expect.
  await create({ cwd: dir, file: out, portable: true, noPax: true }, [ovf, ...disks, mf]);
}

/**
 * Unpacks an OVA into `dir` (plain file names only: anything else is refused) and checks its
 * manifest: every file it lists must be there with that digest (SHA256 or SHA1). Returns the
 * descriptor's name.
 */
export async function unpackOva(file: string, dir: string): Promise<string> {
  const { extract } = await import('tar');
  let refused: string | null = null;
  await extract({
    file, cwd: dir, strict: true,
    filter: (p, e) => {
      const ok = /^[A-Za-z0-9._-]+$/.test(p) && 'type' in e && (e.type === 'File' || e.type === 'OldFile');
      if (!ok) refused ??= p;
      return ok;
    },
  }).catch((e: Error) => {
    throw invalid(`${path.basename(file)} is not a readable OVA (tar): ${e.message}`, 'check the file was copied whole');
  });
  if (refused) throw new IsolaError('UNSAFE', `${path.basename(file)} holds "${refused}", which is not a plain file name`, 'an OVA holds a descriptor, disks and a manifest side by side');
  const names = fs.readdirSync(dir);
  const ovf = names.find((n) => n.endsWith('.ovf'));
  if (!ovf) throw invalid(`${path.basename(file)} holds no .ovf descriptor`, 'give an OVA (an OVF package in one tar file)');
  const mf = names.find((n) => n.endsWith('.mf'));
  if (mf) {
    for (const line of fs.readFileSync(path.join(dir, mf), 'utf8').split('\n').map((l) => l.trim()).filter(Boolean)) {
      const m = /^(SHA256|SHA1)\((.+)\)\s*=\s*([0-9a-fA-F]+)$/.exec(line);
      if (!m) throw invalid(`${mf}: cannot read the line "${line.slice(0, 80)}"`, 'the manifest is damaged; export the OVA again');
      const [, alg, name, want] = m as unknown as [string, string, string, string];
      const f = path.join(dir, name);
      if (!fs.existsSync(f)) throw invalid(`${mf} lists ${name}, which the OVA does not hold`, 'the OVA is incomplete; export it again');
      const h = createHash(alg === 'SHA1' ? 'sha1' : 'sha256');
      await pipeline(fs.createReadStream(f), h);
      if (h.digest('hex') !== want.toLowerCase()) {
        throw new IsolaError('CORRUPT', `${name} in ${path.basename(file)} does not match its ${alg} digest in ${mf}`, 'the OVA was damaged in transfer; copy it again');
      }
    }
  }
  return ovf;
}
