import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { collect, withEngine, type CliContext } from './context.js';
import { parseServiceDisks, workloadsFromStack } from './kube-compose.js';
import { addRunFlags, toRunRequest } from './run.js';
import { measuredOverhead, parseReplicas, parseServiceType, printWarnings, validateOrFail, writeOutput } from './kube-output.js';
import { VERSION } from './version.js';
import { IsolaError, invalid } from '../core/errors.js';
import { which } from '../util/which.js';
import { diskImageFacts } from '../image/disk-image.js';
import { normalizeRef } from '../image/ref.js';
import { BASE_REF, ensureBaseImage } from '../image/base.js';
import { buildContainerDisk } from '../export/kube/containerdisk.js';
import { workloadFromInstance, type WorkloadOptions } from '../export/kube/from-instance.js';
import { resolveHealth } from '../engine/health.js';
import { workloadFromRun } from '../export/kube/from-run.js';
import { imageFactsByDigest, imageFactsByRef } from '../export/kube/image-facts.js';
import { manifestsFor } from '../export/kube/manifests.js';
import { SERVICE_TYPES, type KubeWorkload } from '../export/kube/model.js';
import { renderYaml } from '../export/kube/render.js';
import { Warnings } from '../export/kube/warnings.js';

interface GenerateFlags {
  image?: string;
  replicas: string;
  containerdisk: string[];
  compose?: string;
  projectName?: string;
  profile: string[];
  measured?: string;
  serviceType: string;
  output?: string;
  validate?: boolean;
  kubevirtSchema?: string;
  // and isola run's flags (run.ts)
  [flag: string]: unknown;
}

export function register(program: Command, ctx: CliContext): void {
  const kube = program
    .command('kube')
    .description('Kubernetes manifests for instances and images (Deployment, KubeVirt VM, Kata pod), and KubeVirt containerDisks');

  const generate = kube
    .command('generate')
    .description('write Kubernetes manifests (multi-document YAML) for INSTANCEs, for --image IMAGE with isola run\'s flags, or for the services of a --compose stack')
    .argument('[instance-or-command...]', 'instances to describe; with --image, the command to run instead of the image\'s Cmd')
    .option('--image <image>', 'describe this image run with the run flags below, instead of instances')
    .option('--replicas <n>', 'replicas of each workload (Deployment replicas; one VirtualMachine each for vm)', '1')
    .option('--containerdisk <ref>', 'vm: the containerDisk image the VirtualMachine boots (isola kube containerdisk); with --compose, SERVICE=REF, repeatable', collect, [])
    .option('--compose <file>', 'describe every service of this Compose file (compose.yaml), as isola compose up would run it')
    .option('--project-name <name>', 'with --compose: the project name (as isola compose -p)')
    .option('--profile <name>', 'with --compose: enable the services of this profile (repeatable)', collect, [])
    .option('--measured <result.json>', 'hybrid: the Kata RuntimeClass overhead from isola compare --json')
    .option('--service-type <type>', `type of the Service for published ports: ${SERVICE_TYPES.join(', ')}`, 'ClusterIP')
    .option('-o, --output <file>', 'write to FILE instead of stdout')
    .option('--validate', 'check every object against its schema before writing')
    .option('--kubevirt-schema <file>', 'with --validate: the JSON schema of KubeVirt\'s VirtualMachine');
  const before = generate.options.length;
  addRunFlags(generate);
  const runFlags = generate.options.slice(before);
  generate.action(async (args: string[], flags: GenerateFlags) => {
    if ((flags as { disk?: string }).disk !== undefined) {
      throw invalid('--disk does not apply to kube generate: a cluster boots a VM from a containerDisk image', 'make one with isola kube containerdisk FILE -t REF, then pass --containerdisk REF');
    }
    const warnings = new Warnings();
    const given = runFlags.filter((o) => generate.getOptionValueSource(o.attributeName()) === 'cli').map((o) => o.long ?? o.flags);
    if (flags.compose === undefined && (flags.projectName !== undefined || flags.profile.length)) throw invalid('--project-name and --profile apply to --compose only', 'give the Compose file with --compose FILE');
    if (flags.compose !== undefined) {
      if (flags.image !== undefined || args.length) throw invalid('--compose describes a whole stack: give no instance and no --image with it', 'run isola kube generate once per source');
      if (given.length) throw invalid(`${given.join(', ')} describe an image run and apply with --image only`, 'a Compose file carries each service\'s settings; set them there');
      if (generate.getOptionValueSource('replicas') === 'cli') throw invalid('--replicas does not apply to --compose: each service has its own', 'set deploy.replicas (or scale) in the Compose file');
    }
    const disks = flags.compose !== undefined ? parseServiceDisks(flags.containerdisk) : new Map<string, string>();
    if (flags.compose === undefined && flags.containerdisk.length > 1) throw invalid('--containerdisk given more than once', 'give one containerDisk image (several only with --compose, as SERVICE=REF)');
    const oneDisk = flags.compose === undefined ? flags.containerdisk[0] : undefined;
    const opts: WorkloadOptions = {
      replicas: parseReplicas(flags.replicas),
      serviceType: parseServiceType(flags.serviceType),
      ...(oneDisk ? { containerDisk: oneDisk } : {}),
    };
    const overhead = await measuredOverhead(flags.measured, warnings);
    const workloads = await withEngine(ctx, async (engine): Promise<KubeWorkload[]> => {
      const store = engine.images();
      if (flags.compose !== undefined) {
        const stack = { file: flags.compose, profiles: flags.profile, cwd: process.cwd(), env: ctx.config.env, ...(flags.projectName !== undefined ? { project: flags.projectName } : {}) };
        return workloadsFromStack(store, stack, disks, opts, ctx.config.env, warnings).workloads;
      }
      if (flags.image !== undefined) {
        const req = toRunRequest(flags.image, args, flags as unknown as Parameters<typeof toRunRequest>[2]);
        if (normalizeRef(flags.image) === BASE_REF) await ensureBaseImage(store);
        // A whole-disk image (import-vm, kube containerdisk) is itself the containerDisk a VM boots.
        if (req.kind === 'vm' && !opts.containerDisk && diskImageFacts(store.resolve(flags.image).config)) opts.containerDisk = normalizeRef(flags.image);
        const facts = imageFactsByRef(store, flags.image);
        // The check in force, as isola run resolves it: the image's HEALTHCHECK with --health-*.
        const resolvedHealth = resolveHealth(facts?.health, req.health ?? {}) ?? null;
        return [workloadFromRun({ ...req, resolvedHealth }, facts, opts, ctx.config.env, warnings)];
      }
      if (args.length === 0) throw invalid('nothing to describe', 'name instances (isola kube generate web db), or give --image IMAGE');
      if (given.length) throw invalid(`${given.join(', ')} describe an image run and apply with --image only`, 'an instance carries its own settings; drop them, or use --image IMAGE');
      return args.map((ref) => {
        const rec = engine.find(ref);
        return workloadFromInstance({ spec: rec.spec, ports: rec.ports, facts: imageFactsByDigest(store, rec.imageDigest) }, opts, warnings);
      });
    });
    if (flags.containerdisk.length && !workloads.some((w) => w.kind === 'vm')) warnings.add('--containerdisk', 'no workload runs as vm: the containerDisk is not used');
    if (flags.measured && !workloads.some((w) => w.kind === 'hybrid')) warnings.add('--measured', 'no workload runs as hybrid: the measured overhead is not used');
    const manifests = manifestsFor(workloads, warnings, overhead ? { measuredOverhead: overhead } : {});
    await validateOrFail(manifests, !!flags.validate, flags.kubevirtSchema);
    const header = [`isola ${VERSION} kube generate: ${workloads.map((w) => w.origin).join(', ')}`, 'apply with: kubectl apply -f FILE'];
    printWarnings(warnings);
    writeOutput(renderYaml(manifests, header), flags.output);
  });

  kube
    .command('containerdisk')
    .description('build a KubeVirt containerDisk image from a qcow2 or raw disk (FROM scratch, the disk at /disk/, uid 107, mode 0440)')
    .argument('<disk>', 'the disk file, for example from isola export IMAGE --format qcow2 -o FILE')
    .requiredOption('-t, --tag <ref>', 'name of the image to store, for example registry.example:5000/web-disk:1')
    .action(async (disk: string, flags: { tag: string }) => {
      const ref = normalizeRef(flags.tag);
      const qemuImg = which('qemu-img', ctx.config.searchPath);
      if (!qemuImg) throw new IsolaError('UNAVAILABLE', 'qemu-img is not installed', 'install Debian\'s qemu-utils (npm run bootstrap does)');
      const built = await withEngine(ctx, async (engine) => {
        const scratch = path.join(engine.paths.tmp, `containerdisk-${process.pid}-${randomBytes(4).toString('hex')}`);
        fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
        try {
          return await buildContainerDisk(engine.images(), path.resolve(disk), ref, { qemuImg, scratch, onStep: (s) => process.stderr.write(`${s}\n`) });
        } finally {
          fs.rmSync(scratch, { recursive: true, force: true });
        }
      });
      process.stdout.write(`${ref}: ${built.digest} (/${built.entry}, qcow2)\n`);
    });
}
