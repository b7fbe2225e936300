import fs from 'node:fs';
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { IsolaError, invalid, notFound } from '../core/errors.js';
import { pathsFor } from '../core/paths.js';
import { ImageStore } from '../image/store.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { normalizeRef } from '../image/ref.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('save')
    .description('write images to a tar archive (docker-archive loads in docker and podman; oci-archive is an OCI layout)')
    .argument('<image...>', 'images to put in the archive (several names of one image share its layers)')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .option('--format <format>', 'docker-archive or oci-archive', 'docker-archive')
    .action(async (refs: string[], o: { output?: string; format: string }) => {
      const { saveArchive, ARCHIVE_FORMATS } = await import('../image/archive/save.js');
      const format = ARCHIVE_FORMATS.find((f) => f === o.format);
      if (!format) throw invalid(`unknown --format "${o.format}"`, `use ${ARCHIVE_FORMATS.join(' or ')}`);
      if (!o.output && process.stdout.isTTY) throw invalid('refusing to write an archive to a terminal', 'use -o FILE or redirect standard output');
      const store = new ImageStore(pathsFor(ctx.config.root).images);
      if (refs.some((r) => normalizeRef(r) === BASE_REF)) await ensureBaseImage(store);
      if (!o.output) return saveArchive(store, refs, format, process.stdout);
      // Written beside the target and renamed when whole: a failed save leaves no half archive.
      const tmp = `${o.output}.isola-tmp-${process.pid}`;
      try {
        await saveArchive(store, refs, format, fs.createWriteStream(tmp));
        fs.renameSync(tmp, o.output);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    });

  program
    .command('load')
    .description('store the images of a docker-archive or oci-archive (plain or gzip), from a file or standard input')
    .option('-i, --input <file>', 'read from this file instead of standard input')
    .option('-q, --quiet', 'print only the names loaded')
    .action(async (o: { input?: string; quiet?: boolean }) => {
      const { loadArchive } = await import('../image/archive/load.js');
      if (!o.input && process.stdin.isTTY) throw invalid('requested load from standard input, but it is a terminal', 'use -i FILE or redirect standard input');
      if (o.input && !fs.existsSync(o.input)) throw notFound(`file "${o.input}" not found`, 'give the path of an archive written by docker save, podman save or isola save');
      const input = o.input ? fs.createReadStream(o.input) : process.stdin;
      const store = new ImageStore(pathsFor(ctx.config.root).images);
      const loaded = await loadArchive(store, input, o.input ? `archive ${o.input}` : 'the archive on standard input');
      if (loaded.length === 0) throw new IsolaError('INVALID_ARGUMENT', 'the archive held no image', 'check what was saved');
      process.stdout.write(loaded.map((n) => (o.quiet ? `${n}\n` : `Loaded image: ${n}\n`)).join(''));
    });
}
