import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { invalid, notFound } from '../core/errors.js';
import { pathsFor } from '../core/paths.js';
import { ImageStore } from '../image/store.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { normalizeRef } from '../image/ref.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('tag')
    .description('give a local image another name (for example HOST[:PORT]/NAME:TAG before isola push)')
    .argument('<source>', 'an image name[:tag] or name@digest')
    .argument('<target>', 'the new name[:tag]')
    .action(async (source: string, target: string) => {
      const s = new ImageStore(pathsFor(ctx.config.root).images);
      if (normalizeRef(source) === BASE_REF) await ensureBaseImage(s);
      const desc = s.findDescriptor(source);
      if (!desc) throw notFound(`image "${source}" not found`, 'list images with isola images');
      if (normalizeRef(target).includes('@')) throw invalid(`cannot tag to a digest (${target})`, 'give a name[:tag]');
      await s.tagDescriptor(target, desc);
    });
}
