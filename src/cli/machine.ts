import type { Command } from 'commander';
import { printJson, withEngine, type CliContext } from './context.js';
import { ago, renderTable } from './table.js';
import { formatBytes, parseBytes, parseCpus } from '../core/units.js';
import { invalid } from '../core/errors.js';
import { Machines, MACHINE_DEFAULTS, type MachineView } from '../engine/machines.js';
import { watchMachine } from '../engine/machine-watch.js';
import type { InstanceRecord } from '../state/instances.js';

function text(v: MachineView): string {
  return [
    `Name:        ${v.name}`,
    `Id:          ${v.id}`,
    `State:       ${v.state}`,
    `Address:     ${v.ip}`,
    `Memory:      ${formatBytes(v.memoryBytes)}`,
    `CPUs:        ${v.cpus}`,
    `Disk:        ${formatBytes(v.diskBytes)}`,
    `Accelerator: ${v.accelerator ?? '-'}`,
    `Host memory: ${v.hostMemoryBytes === null ? '-' : formatBytes(v.hostMemoryBytes)}`,
    `Console:     ${v.consoleLog ?? '-'}`,
    `Containers:  ${v.containers.map((c) => `${c.name} (${c.state})`).join(', ') || '(none)'}`,
  ].join('\n') + '\n';
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('_machine-watch', { hidden: true })
    .description('internal: a running machine\'s exit relay (records its containers\' exits as they happen)')
    .option('--data-root <dir>')
    .argument('<id>')
    .action(async (id: string, o: { dataRoot?: string }) => {
      await withEngine(ctx, async (e) => {
        const machines = new Machines(e);
        const host = await e.drivers.machines();
        const running = async () => {
          const m = machines.repo.get(id);
          return m !== undefined && (await host.observe(m.spec, m.data)).state === 'running';
        };
        const observeRunning = async (r: InstanceRecord) => (await e.driver(r.kind).observe(r.spec, r.data)).state === 'running';
        await watchMachine({ instances: e.instances, observeRunning, cleanupInstance: (i) => e.cleanupInstance(i) }, machines.repo, id, running);
      }, o.dataRoot);
    });

  const machine = program.command('machine').description('machines: long-lived VMs that host many containers (run --machine NAME); docs/MACHINES.md');

  machine
    .command('create')
    .description('create a machine (a VM on isola\'s guest kernel, one tap on isola0) and start it')
    .argument('<name>')
    .option('-m, --memory <size>', `its RAM, shared by its containers (default ${formatBytes(MACHINE_DEFAULTS.memoryBytes)})`)
    .option('--cpus <n>', `its vCPUs (default ${MACHINE_DEFAULTS.cpus})`)
    .option('--disk <size>', `room on its disk for its containers' writes (default ${formatBytes(MACHINE_DEFAULTS.diskBytes)}, sparse)`)
    .action(async (name: string, o: { memory?: string; cpus?: string; disk?: string }) => {
      const cpus = o.cpus === undefined ? undefined : parseCpus(o.cpus);
      if (cpus !== undefined && !Number.isInteger(cpus)) throw invalid(`--cpus ${o.cpus}: a machine has whole vCPUs`, 'give a whole number, e.g. --cpus 2');
      const req = {
        name,
        ...(o.memory !== undefined ? { memoryBytes: parseBytes(o.memory, '--memory') } : {}),
        ...(cpus !== undefined ? { cpus } : {}),
        ...(o.disk !== undefined ? { diskBytes: parseBytes(o.disk, '--disk') } : {}),
      };
      const v = await withEngine(ctx, (e) => new Machines(e).create(req));
      process.stdout.write(`${v.name}\n`);
    });

  machine
    .command('ls')
    .description('list machines')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'only print names')
    .action(async (o: { json?: boolean; quiet?: boolean }) => {
      const list = await withEngine(ctx, (e) => new Machines(e).list());
      if (o.json) return printJson(list);
      if (o.quiet) return void process.stdout.write(list.map((v) => `${v.name}\n`).join(''));
      process.stdout.write(renderTable(
        ['NAME', 'STATE', 'ADDRESS', 'MEMORY', 'CPUS', 'CONTAINERS', 'CREATED'],
        list.map((v) => [v.name, v.state, v.ip, formatBytes(v.memoryBytes), String(v.cpus), String(v.containers.length), ago(v.createdAt)]),
      ));
    });

  machine
    .command('inspect')
    .description('show machines: state, address, size, host memory, their containers')
    .argument('<name...>')
    .option('--json', 'print JSON')
    .action(async (names: string[], o: { json?: boolean }) => {
      const views = await withEngine(ctx, async (e) => {
        const m = new Machines(e);
        const out: MachineView[] = [];
        for (const n of names) out.push(await m.inspect(n));
        return out;
      });
      if (o.json) return printJson(views);
      process.stdout.write(views.map(text).join('\n'));
    });

  machine
    .command('start')
    .description('start stopped machines')
    .argument('<name...>')
    .action(async (names: string[]) => {
      for (const n of names) {
        const v = await withEngine(ctx, (e) => new Machines(e).start(n));
        process.stdout.write(`${v.name}\n`);
      }
    });

  machine
    .command('stop')
    .description('stop machines: their containers first (each recorded stopped), then the VM')
    .argument('<name...>')
    .option('-t, --time <seconds>', 'seconds each container gets to stop before it is killed', '10')
    .action(async (names: string[], o: { time: string }) => {
      const t = Number(o.time);
      if (!Number.isInteger(t) || t < 0) throw invalid(`invalid -t "${o.time}"`, 'give whole seconds, e.g. -t 10');
      for (const n of names) {
        const v = await withEngine(ctx, (e) => new Machines(e).stop(n, t));
        process.stdout.write(`${v.name}\n`);
      }
    });

  machine
    .command('rm')
    .description('remove machines (refused while they run or hold containers, unless -f)')
    .argument('<name...>')
    .option('-f, --force', 'remove its containers and stop it first')
    .action(async (names: string[], o: { force?: boolean }) => {
      for (const n of names) {
        const name = await withEngine(ctx, (e) => new Machines(e).remove(n, o.force === true));
        process.stdout.write(`${name}\n`);
      }
    });
}
