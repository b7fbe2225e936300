import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { progressDisplay } from './progress.js';
import { ask, readStdin } from './prompt.js';
import { invalid } from '../core/errors.js';
import { pathsFor } from '../core/paths.js';
import { ImageStore } from '../image/store.js';
import { HOST_PLATFORM, formatPlatform, parsePlatform } from '../image/platform.js';
import { which } from '../util/which.js';

interface TlsFlags {
  insecure?: boolean;
  tlsCa?: string;
}

function addTlsFlags(cmd: Command): Command {
  return cmd
    .option('--insecure', 'allow plain HTTP and do not verify the TLS certificate (loopback registries may use HTTP without it)')
    .option('--tls-ca <file>', 'trust this PEM CA certificate for the registry, besides the system\'s');
}

function registryOptions(ctx: CliContext, o: TlsFlags) {
  return { credentialsFile: ctx.config.credentialsFile, ...(o.insecure ? { insecure: true } : {}), ...(o.tlsCa ? { tlsCa: o.tlsCa } : {}) };
}

function store(ctx: CliContext): ImageStore {
  return new ImageStore(pathsFor(ctx.config.root).images);
}

export function register(program: Command, ctx: CliContext): void {
  addTlsFlags(program
    .command('pull')
    .description('download an image from a registry (HOST[:PORT]/NAME[:TAG|@DIGEST]; there is no default registry)')
    .argument('<image>', 'HOST[:PORT]/NAME[:TAG] or HOST[:PORT]/NAME@sha256:DIGEST')
    .option('--platform <os/arch[/variant]>', 'platform to pick from a multi-platform image', formatPlatform(HOST_PLATFORM))
    .option('-q, --quiet', 'print only the image name'))
    .action(async (text: string, o: TlsFlags & { platform: string; quiet?: boolean }) => {
      const { pullImage } = await import('../image/registry/pull.js');
      const progress = progressDisplay(process.stderr, !o.quiet);
      const status = (l: string) => !o.quiet && process.stderr.write(`${l}\n`);
      try {
        const r = await pullImage(store(ctx), text, {
          ...registryOptions(ctx, o), platform: parsePlatform(o.platform), haveZstd: which('zstd', ctx.config.searchPath) !== null,
          onProgress: progress.sink, onStatus: status,
        });
        progress.done();
        status(`Digest: ${r.digest}`);
        status(r.upToDate && r.downloaded === 0 ? `Status: Image is up to date for ${r.stored}` : `Status: Downloaded newer image for ${r.stored}`);
        process.stdout.write(`${r.stored}\n`);
      } finally {
        progress.done();
      }
    });

  addTlsFlags(program
    .command('push')
    .description('upload a local image to the registry its name says (tag it first with isola tag)')
    .argument('<image>', 'HOST[:PORT]/NAME[:TAG], the name of a local image')
    .option('-q, --quiet', 'print only the pushed digest'))
    .action(async (text: string, o: TlsFlags & { quiet?: boolean }) => {
      const { pushImage } = await import('../image/registry/push.js');
      const progress = progressDisplay(process.stderr, !o.quiet);
      try {
        const r = await pushImage(store(ctx), text, {
          ...registryOptions(ctx, o), chunkAbove: ctx.config.pushChunkAbove, onProgress: progress.sink, onStatus: (l) => !o.quiet && process.stderr.write(`${l}\n`),
        });
        progress.done();
        process.stdout.write(o.quiet ? `${r.digest}\n` : `${r.tag}: digest: ${r.digest} size: ${r.size}\n`);
      } finally {
        progress.done();
      }
    });

  addTlsFlags(program
    .command('login')
    .description('log in to a registry; the login is checked, then stored in Docker\'s config.json (shared with docker login)')
    .argument('<host>', 'registry HOST[:PORT]')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (visible to other users in the process list; prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input'))
    .action(async (hostText: string, o: TlsFlags & { username?: string; password?: string; passwordStdin?: boolean }) => {
      const { login } = await import('../image/registry/login.js');
      if (o.password !== undefined && o.passwordStdin) throw invalid('--password and --password-stdin are mutually exclusive', 'use one of them');
      if (o.passwordStdin && !o.username) throw invalid('--password-stdin needs --username', 'pass -u USER with it');
      if (o.password !== undefined) process.stderr.write('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
      const username = o.username ?? (await ask('Username: ', false));
      const password = o.passwordStdin ? await readStdin() : (o.password ?? (await ask('Password: ', true)));
      if (!username || !password) throw invalid('a user name and a password are required', 'pass -u USER and --password-stdin');
      await login(hostText, { username, password }, registryOptions(ctx, o));
      process.stdout.write('Login Succeeded\n');
    });

  program
    .command('logout')
    .description('remove the stored login for a registry')
    .argument('<host>', 'registry HOST[:PORT]')
    .action(async (hostText: string) => {
      const { logout } = await import('../image/registry/login.js');
      const r = logout(hostText, ctx.config.credentialsFile);
      process.stdout.write(r.removed ? `Removing login credentials for ${r.host}\n` : `Not logged in to ${r.host}\n`);
    });
}
