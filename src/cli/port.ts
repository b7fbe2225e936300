import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { invalid, notFound } from '../core/errors.js';
import { protocolOf, type PortMapping } from '../net/publish.js';

/** `isola port INSTANCE [PORT[/PROTO]]`: the published ports, as `docker port` prints them. */
export function register(program: Command, ctx: CliContext): void {
  program
    .command('port')
    .description('list an instance\'s published ports, or the host address of one of them')
    .argument('<instance>')
    .argument('[port]', 'an instance port, PORT or PORT/tcp|udp')
    .action(async (ref: string, port: string | undefined) => {
      const rec = await withEngine(ctx, async (e) => {
        await e.reconcile();
        return e.find(ref);
      });
      const maps = rec.ports as PortMapping[];
      if (port === undefined) {
        process.stdout.write(maps.map((m) => `${m.instancePort}/${protocolOf(m)} -> ${hostAddress(m)}\n`).join(''));
        return;
      }
      const m = /^(\d+)(?:\/(tcp|udp))?$/.exec(port);
      if (!m) throw invalid(`invalid port "${port}"`, 'give PORT or PORT/tcp or PORT/udp');
      const found = maps.filter((x) => x.instancePort === Number(m[1]) && protocolOf(x) === (m[2] ?? 'tcp'));
      if (found.length === 0) throw notFound(`instance ${rec.name} does not publish port ${m[1]}/${m[2] ?? 'tcp'}`, `see its published ports with isola port ${rec.name}`);
      process.stdout.write(found.map((x) => `${hostAddress(x)}\n`).join(''));
    });
}

/** A port chosen at start reads 0 until the instance has been started. */
function hostAddress(m: PortMapping): string {
  return `${m.hostIp}:${m.hostPort}`;
}
