import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { Engine } from '../engine/engine.js';
import { DEFAULT_SOCKET, checkTcpOptions, startServer, type ServeOptions } from '../api/server.js';

export function register(program: Command, ctx: CliContext): void {
  program
    .command('serve')
    .description('serve the Docker Engine API (docs/API.md) on a unix socket, for docker, SDKs and tools; the CLI keeps working beside it')
    .option('--socket <path>', `unix socket to listen on (mode 0660, group isola when it exists, else root only)`, DEFAULT_SOCKET)
    .option('--no-socket', 'listen on no unix socket (with --tcp)')
    .option('--tcp <host:port>', 'also listen on TCP: only with mutual TLS (--tls-cert, --tls-key, --tls-ca) or a bearer token (--token-file)')
    .option('--tls-cert <file>', 'TLS certificate of the server (PEM)')
    .option('--tls-key <file>', 'TLS key of the server (PEM)')
    .option('--tls-ca <file>', 'CA whose client certificates are accepted (mutual TLS)')
    .option('--token-file <file>', 'file holding the bearer token TCP clients must send (Authorization: Bearer)')
    .action(async (o: { socket: string | false; tcp?: string; tlsCert?: string; tlsKey?: string; tlsCa?: string; tokenFile?: string }) => {
      const opts: ServeOptions = {
        socket: o.socket === false ? null : o.socket,
        ...(o.tcp ? { tcp: o.tcp } : {}),
        ...(o.tlsCert ? { tlsCert: o.tlsCert } : {}),
        ...(o.tlsKey ? { tlsKey: o.tlsKey } : {}),
        ...(o.tlsCa ? { tlsCa: o.tlsCa } : {}),
        ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}),
        log: (l) => process.stderr.write(`isola serve: ${l}\n`),
      };
      checkTcpOptions(opts); // refused before the engine opens
      const engine = new Engine(ctx.config);
      let server;
      try {
        server = await startServer(engine, opts);
      } catch (e) {
        engine.close();
        throw e;
      }
      process.stderr.write(`isola serve: listening on ${server.addresses.join(' and ')} (Docker Engine API)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      engine.close();
    });
}
