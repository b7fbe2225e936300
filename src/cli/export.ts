import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { withEngine, type CliContext } from './context.js';
import { IsolaError, invalid } from '../core/errors.js';
import { parseBytes, parseCpus } from '../core/units.js';
import { readGuestAssets } from '../guest/assets.js';
import { which } from '../util/which.js';
import type { Engine } from '../engine/engine.js';
import type { DiskBus, Firmware } from '../image/disk-image.js';

interface ExportFlags {
  format: string;
  output?: string;
  cpus?: string;
  memory?: string;
  free: string;
  boot: string;
}

function qemuImg(ctx: CliContext): string {
  const p = which('qemu-img', ctx.config.searchPath);
  if (!p) throw new IsolaError('UNAVAILABLE', 'qemu-img is not installed', 'install Debian\'s qemu-utils (npm run bootstrap does)');
  return p;
}

function scratchIn(e: Engine, what: string): string {
  const dir = path.join(e.paths.tmp, `${what}-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export function register(program: Command, ctx: CliContext): void {
  program
    .command('export')
    .description('write an image (or an instance: its image, command and, for a container, its changes) as a bootable whole-disk VM')
    .argument('<image-or-instance>')
    .argument('[command...]', 'the command the disk runs at boot (default: the image\'s entrypoint and command; with --boot isola)')
    .requiredOption('-o, --output <file>', 'the disk or OVA to write')
    .option('--format <format>', 'qcow2, vmdk, vdi, raw or ova; or tar: an instance\'s files (docker export)', 'qcow2')
    .option('--cpus <n>', 'vCPUs the OVA descriptor asks for (default 1)')
    .option('-m, --memory <size>', 'memory the OVA descriptor asks for (default 512m)')
    .option('--free <size>', 'free space in the root file system beyond the image\'s files', '1g')
    .option('--boot <what>', 'isola (isola\'s kernel and init run the image\'s command), os (the image\'s own kernel and init: a full OS) or auto (os when the image has a kernel)', 'auto')
    .passThroughOptions()
    .action(async (ref: string, command: string[], o: ExportFlags) => {
      if (o.format === 'tar') return exportTar(ctx, ref, command, o);
      const { exportDisk, parseFormat, parseBoot } = await import('../export/disk/export.js');
      const format = parseFormat(o.format);
      const boot = parseBoot(o.boot);
      if (!o.output) throw invalid('no output file', 'give -o FILE');
      const out = path.resolve(o.output);
      if (!fs.existsSync(path.dirname(out))) throw invalid(`the folder of ${o.output} does not exist`, 'create it first, or write elsewhere');
      const memoryMiB = o.memory ? Math.ceil(parseBytes(o.memory, '--memory') / 1048576) : 512;
      const cpus = o.cpus ? Math.ceil(parseCpus(o.cpus)) : 1;
      const freeBytes = parseBytes(o.free, '--free');
      await withEngine(ctx, async (e) => {
        const assets = readGuestAssets(e.config.assets);
        if (!assets) throw new IsolaError('UNAVAILABLE', 'the guest kernel and init are not set up', 'run npm run bootstrap once');
        const scratch = scratchIn(e, 'export');
        try {
          await e.reconcile();
          const rec = e.instances.find(ref);
          const extraLayers: string[] = [];
          let image;
          let workload;
          if (rec) {
            image = rec.spec.image;
            workload = { argv: rec.spec.argv, env: rec.spec.env, workdir: rec.spec.workdir, user: rec.spec.user, hostname: rec.spec.hostname };
            if (e.driver(rec.kind).exportChanges) {
              const tar = path.join(scratch, 'changes.tar');
              await e.exportChanges(rec.id, tar);
              extraLayers.push(tar);
            }
          } else {
            image = await e.resolveImage(ref);
            const c = image.config;
            workload = { argv: [...c.entrypoint, ...c.cmd], env: c.env, workdir: c.workingDir || '/', user: c.user, hostname: image.ref.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63) };
          }
          if (command.length > 0) workload = { ...workload, argv: command };
          const r = await exportDisk({
            image, extraLayers, workload, cpus, memoryMiB, freeBytes, format, out, scratch, assets, boot, qemuImg: qemuImg(ctx), limits: e.config.unpack,
            onStep: (s) => process.stderr.write(`${s}\n`),
          });
          const what = r.boot === 'os' ? `the image's own kernel ${r.kernel} and init` : `isola's kernel ${r.kernel} and init running ${workload.argv.join(' ')}`;
          process.stdout.write(`${out} (${format}, ${(r.bytes / 1048576).toFixed(1)} MiB on disk, ${(r.virtualBytes / 1048576).toFixed(0)} MiB virtual; boots ${what})\n`);
        } finally {
          fs.rmSync(scratch, { recursive: true, force: true });
        }
      });
    });

  program
    .command('import-vm')
    .description('store a whole-disk VM (an OVA, or a qcow2, VMDK, VDI or raw disk) as an image that isola run --as vm boots')
    .argument('<file>', 'an .ova, .qcow2, .vmdk, .vdi, .raw or .img file')
    .argument('<name>', 'NAME[:TAG] for the image')
    .option('--cpus <n>', 'vCPUs (default: the OVA\'s, else 1)')
    .option('-m, --memory <size>', 'memory (default: the OVA\'s, else 512m)')
    .option('--firmware <kind>', 'bios (SeaBIOS) or uefi (OVMF)', 'bios')
    .option('--disk-bus <bus>', 'virtio, or sata (with an e1000e NIC) for an OS without virtio drivers', 'virtio')
    .action(async (file: string, name: string, o: { cpus?: string; memory?: string; firmware: string; diskBus: string }) => {
      const opts = importFlags(o);
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new IsolaError('NOT_FOUND', `file "${file}" not found`, 'give an OVA or a disk image');
      const { importVm } = await import('../export/import-vm.js');
      await withEngine(ctx, async (e) => {
        const scratch = scratchIn(e, 'import-vm');
        try {
          const r = await importVm(e.images(), path.resolve(file), name, {
            scratch, qemuImg: qemuImg(ctx), ...opts, onStep: (s) => process.stderr.write(`${s}\n`),
          });
          process.stdout.write(`${r.digest}\n`);
        } finally {
          fs.rmSync(scratch, { recursive: true, force: true });
        }
      });
    });
}

/**
 * `isola export --format tar INSTANCE -o FILE|-`: the instance's root file system as a tar, as
 * `docker export` writes it (engine/export-fs.ts); the file appears only whole.
 */
async function exportTar(ctx: CliContext, ref: string, command: string[], o: ExportFlags): Promise<void> {
  if (command.length > 0) throw invalid('--format tar writes an instance\'s files, it runs no command', `leave out ${command.join(' ').slice(0, 60)}`);
  if (o.cpus || o.memory || o.boot !== 'auto' || o.free !== '1g') throw invalid('--cpus, -m, --boot and --free are for disks, not --format tar', 'leave them out');
  if (!o.output) throw invalid('no output file', 'give -o FILE, or -o - for stdout');
  const toStdout = o.output === '-';
  const out = path.resolve(o.output);
  if (!toStdout && !fs.existsSync(path.dirname(out))) throw invalid(`the folder of ${o.output} does not exist`, 'create it first, or write elsewhere');
  const { exportFilesystem } = await import('../engine/export-fs.js');
  await withEngine(ctx, async (e) => {
    await e.reconcile();
    if (!e.instances.find(ref)) throw new IsolaError('NOT_FOUND', `no instance "${ref}"`, 'isola export --format tar takes an instance (isola ps -a); an image\'s files: isola save IMAGE');
    if (toStdout) {
      await exportFilesystem(e, ref, () => process.stdout);
      return;
    }
    const part = `${out}.part-${process.pid}`;
    let file: fs.WriteStream | null = null;
    const open = (): fs.WriteStream => (file = fs.createWriteStream(part, { mode: 0o644 }));
    try {
      await exportFilesystem(e, ref, open);
      const f = file ?? open();
      await new Promise<void>((resolve, reject) => f.end((err?: Error | null) => (err ? reject(err) : resolve())));
      fs.renameSync(part, out);
    } catch (err) {
      const f = file as fs.WriteStream | null;
      if (f && !f.closed) await new Promise<void>((resolve) => f.once('close', () => resolve()).destroy());
      fs.rmSync(part, { force: true });
      throw err;
    }
  });
}

/** import-vm's (and run --disk's) flags, checked before any work. */
export function importFlags(o: { cpus?: string; memory?: string; firmware: string; diskBus: string }): { firmware: Firmware; bus: DiskBus; cpus?: number; memoryMiB?: number } {
  if (o.firmware !== 'bios' && o.firmware !== 'uefi') throw invalid(`unknown --firmware "${o.firmware}"`, 'use bios (SeaBIOS) or uefi (OVMF)');
  if (o.diskBus !== 'virtio' && o.diskBus !== 'sata') throw invalid(`unknown --disk-bus "${o.diskBus}"`, 'use virtio, or sata for an OS without virtio drivers');
  return {
    firmware: o.firmware, bus: o.diskBus,
    ...(o.cpus ? { cpus: Math.ceil(parseCpus(o.cpus)) } : {}),
    ...(o.memory ? { memoryMiB: Math.ceil(parseBytes(o.memory, '--memory') / 1048576) } : {}),
  };
}
