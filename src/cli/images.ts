import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import { formatBytes } from '../core/units.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { importRootfs } from '../image/import.js';
import { IsolaError } from '../core/errors.js';
import { normalizeRef, repoAndTag } from '../image/ref.js';
import { isBuildCacheRef } from '../image/build/cache.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('images')
    .description('list images in the local store')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'only print digests')
    .option('--digests', 'show full manifest digests')
    .option('-a, --all', 'also list the build cache\'s step images (isola-build-cache:KEY)')
    .action(async (o: { json?: boolean; quiet?: boolean; digests?: boolean; all?: boolean }) => {
      const list = await withEngine(ctx, async (e) => {
        await ensureBaseImage(e.images());
        // Intermediate build images are hidden, as Docker hides its own without -a.
        return e.images().list().filter((i) => o.all || !isBuildCacheRef(i.ref));
      });
      if (o.json) return printJson(list);
      if (o.quiet) return void process.stdout.write(list.map((i) => `${i.digest}\n`).join(''));
      process.stdout.write(
        renderTable(
          ['REPOSITORY', 'TAG', 'DIGEST', 'CREATED', 'SIZE'],
          list.map((i) => {
            const { repository, tag } = repoAndTag(i.ref);
            return [repository, tag, o.digests ? i.digest : i.digest.slice(7, 19), ago(i.created ?? null), formatBytes(i.size)];
          }),
        ),
      );
    });

  program
    .command('import')
    .description('make a one-layer OCI image from a root file system tarball (plain or gzip)')
    .argument('<file>', 'rootfs tar archive')
    .argument('<image>', 'name[:tag] for the new image')
    .option('--cmd <cmd...>', 'the image\'s default command', ['sh'])
    .action(async (file: string, ref: string, o: { cmd: string[] }) => {
      const desc = await withEngine(ctx, async (e) => importRootfs(e.images(), file, ref, e.paths.tmp, o.cmd, e.config.unpack));
      process.stdout.write(`${desc.digest}\n`);
    });

  program
    .command('rmi')
    .description('remove images (their blobs go when no other image needs them)')
    .option('-f, --force', 'remove even if instances use it')
    .argument('<image...>')
    .action(async (refs: string[], o: { force?: boolean }) => {
      await withEngine(ctx, async (e) => {
        for (const ref of refs) {
          const name = normalizeRef(ref);
          const users = e.instances.list().filter((r) => r.imageRef === name);
          if (users.length > 0 && !o.force) {
            throw new IsolaError('FAILED_PRECONDITION', `image ${name} is used by ${users.length} instance(s): ${users.map((u) => u.name).join(', ')}`, 'remove them first (isola rm), or use isola rmi -f');
          }
          const digest = await e.images().remove(ref);
          if (name === BASE_REF) process.stderr.write('note: base is rebuilt from busybox the next time it is used\n');
          process.stdout.write(`Deleted: ${digest}\n`);
        }
      });
    });
}
