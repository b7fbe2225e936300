import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { renderTable } from './table.js';
import type { NetworkView } from '../engine/networks.js';

/** `isola network …`: user networks, Docker's verbs and flags. */
export function register(program: Command, ctx: CliContext): void {
  const network = program.command('network').description('user networks: each its own bridge and subnet; instances on one find each other by name');

  network
    .command('create')
    .description('create a network (a bridge isolabr-<id> with NAT to the host\'s networks)')
    .argument('<name>')
    .option('--subnet <cidr>', 'its subnet, e.g. 10.90.0.0/24 (default: a free /24 of 10.78.0.0/15)')
    .option('--gateway <ip>', 'the bridge\'s address in the subnet (default: the first)')
    .action(async (name: string, o: { subnet?: string; gateway?: string }) => {
      const rec = await withEngine(ctx, (e) => e.networks.create(name, { ...(o.subnet !== undefined ? { subnet: o.subnet } : {}), ...(o.gateway !== undefined ? { gateway: o.gateway } : {}) }));
      process.stdout.write(`${rec.id}\n`);
    });

  network
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only print ids')
    .option('--json', 'print JSON')
    .action(async (o: { quiet?: boolean; json?: boolean }) => {
      const nets = await withEngine(ctx, async (e) => {
        await e.reconcile();
        return e.networks.list();
      });
      if (o.json) return printJson(nets.map(networkJson));
      if (o.quiet) return void process.stdout.write(nets.map((n) => `${shortId(n)}\n`).join(''));
      process.stdout.write(renderTable(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'GATEWAY', 'BRIDGE', 'INSTANCES'],
        nets.map((n) => [shortId(n), n.name, n.driver, n.subnet ?? '-', n.gateway ?? '-', n.bridge ?? '-', String(n.instances.length)])));
    });

  network
    .command('inspect')
    .description('print networks as JSON, with the instances on them')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      const docs = await withEngine(ctx, async (e) => {
        await e.reconcile();
        return refs.map((r) => networkJson(e.networks.inspect(r)));
      });
      printJson(docs);
    });

  network
    .command('rm')
    .alias('remove')
    .description('remove networks (refused while an instance is on one)')
    .argument('<network...>')
    .action(async (refs: string[]) => {
      await withEngine(ctx, async (e) => {
        await e.reconcile();
        for (const r of refs) {
          await e.networks.remove(r);
          process.stdout.write(`${r}\n`);
        }
      });
    });

  network
    .command('prune')
    .description('remove every user network no instance is on')
    .action(async () => {
      const removed = await withEngine(ctx, async (e) => {
        await e.reconcile();
        return e.networks.prune();
      });
      process.stdout.write(removed.map((n) => `${n.name}\n`).join(''));
    });

  network
    .command('connect')
    .description('connect an instance to a network: a new interface now (running container) or at its next start')
    .argument('<network>')
    .argument('<instance>')
    .action(async (net: string, inst: string) => {
      await withEngine(ctx, async (e) => {
        await e.reconcile();
        await e.networks.connect(net, e.find(inst));
      });
    });

  network
    .command('disconnect')
    .description('disconnect an instance from a network')
    .argument('<network>')
    .argument('<instance>')
    .action(async (net: string, inst: string) => {
      await withEngine(ctx, async (e) => {
        await e.reconcile();
        await e.networks.disconnect(net, e.find(inst));
      });
    });
}

const shortId = (n: NetworkView): string => (/^[0-9a-f]{64}$/.test(n.id) ? n.id.slice(0, 12) : n.id);

/** Docker-shaped (`docker network inspect`), plus the bridge's name. */
export function networkJson(n: NetworkView) {
  return {
    Id: n.id,
    Name: n.name,
    Driver: n.driver,
    Created: n.createdAt,
    IPAM: { Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
    Bridge: n.bridge,
    Instances: Object.fromEntries(n.instances.map((i) => [i.id, { Name: i.name, IPv4Address: i.ip, MacAddress: i.mac, Interface: i.ifname }])),
  };
}
