import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { ResolvedImage } from '../core/types.js';
import { IsolaError } from '../core/errors.js';
import type { Engine } from '../engine/engine.js';
import { readGuestAssets } from '../guest/assets.js';
import { debianRootfs, debianRootfsKey, DEBIAN_SUITE } from '../image/debian-os.js';
import { importRootfs } from '../image/import.js';
import { unpackImage } from '../image/unpack.js';
import { exportDisk, type DiskFormat, type ExportResult } from '../export/disk/export.js';
import { importVm } from '../export/import-vm.js';
import { run } from '../util/exec.js';
import { which } from '../util/which.js';

/**
 * The comparison's kind of VM, built by isola: a whole disk (MBR, syslinux, the OS's own kernel
 * and initramfs) holding Debian 12 with systemd, on which the workload runs as a systemd service,
 * booted the classic way (q35, SeaBIOS). It is made once per workload and kept:
 *
 * 1. the OS: `debootstrap --variant=minbase` with systemd, udev, D-Bus, Debian's cloud kernel and
 *    iproute2, cached as a tarball in the assets folder (shared by every data root), imported as
 *    an image;
 * 2. the workload on top, as one extra layer: the workload image's files under /srv/app, a unit
 *    running its entrypoint and command there (RootDirectory=, its user, environment and working
 *    folder), a unit that prints a marker on the console right before it starts, and a unit that
 *    gives the VM the address isola allocated (read from QEMU's fw_cfg entry opt/isola/config, the
 *    way Ignition reads its config under QEMU; isola's whole-disk driver passes it);
 * 3. `isola export` writes the whole disk (boot os) and `isola import-vm` stores it as a
 *    whole-disk image, named after everything that went into it.
 */
export const OS_PACKAGES: readonly string[] = ['systemd', 'systemd-sysv', 'udev', 'dbus', 'linux-image-cloud-amd64', 'iproute2'];
export const OS_MEMORY_MIB = 512;
/** The console line the OS prints when it starts the workload's service. */
export const OS_MARKER = 'isola-first-output';
/** The console line the OS prints when the workload's service ends (with systemd's result). */
export const OS_EXITED = 'isola-workload-exited';
/** Bumped whenever the units or the layer change, so a cached disk is made again. */
const LAYOUT = 2;

export const OS_DESCRIPTION = `Debian 12 (${DEBIAN_SUITE}) minbase + ${OS_PACKAGES.join(', ')}`;

/** systemd's unit-file quoting: one word in double quotes; % and $ stay literal. */
export function unitWord(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$').replace(/\n/g, '\\n')}"`;
}

/** An Environment= value: quoted; % escaped (no $ expansion happens there). */
function envWord(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\n/g, '\\n')}"`;
}

/** Reads "name:x:uid:gid:..." lines. */
function idTable(file: string): Map<string, { id: number; gid?: number }> {
  const out = new Map<string, { id: number; gid?: number }>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && /^\d+$/.test(f[2] ?? '')) out.set(f[0] as string, { id: Number(f[2]), ...(/^\d+$/.test(f[3] ?? '') ? { gid: Number(f[3]) } : {}) });
  }
  return out;
}

/** The image's USER as numbers, resolved in its own /etc/passwd and /etc/group (systemd resolves names in the OS's). */
export function resolveUser(tree: string, user: string): { uid: number; gid: number } {
  if (!user) return { uid: 0, gid: 0 };
  const [u = '', g] = user.split(':');
  const passwd = idTable(path.join(tree, 'etc', 'passwd'));
  const groups = idTable(path.join(tree, 'etc', 'group'));
  const pw = /^\d+$/.test(u) ? { id: Number(u), gid: [...passwd.values()].find((e) => e.id === Number(u))?.gid } : passwd.get(u);
  if (!pw) throw new IsolaError('INVALID_ARGUMENT', `the image's user "${u}" is not in its /etc/passwd`, 'give the image a numeric USER, or add the user to its /etc/passwd');
  let gid = pw.gid ?? pw.id;
  if (g !== undefined && g !== '') {
    const gr = /^\d+$/.test(g) ? { id: Number(g) } : groups.get(g);
    if (!gr) throw new IsolaError('INVALID_ARGUMENT', `the image's group "${g}" is not in its /etc/group`, 'give the image a numeric USER uid:gid');
    gid = gr.id;
  }
  return { uid: pw.id, gid };
}

/**
 * The OS's /etc/passwd and /etc/group with the workload's uid and gid added when the OS lacks
 * them (undefined when it has both). systemd looks User= and Group= up in the OS's own database
 * before it enters RootDirectory=, and refuses a number it cannot find (status 217/USER), so the
 * image's numeric user needs an entry there too.
 */
export function osAccounts(passwd: string, group: string, uid: number, gid: number): { passwd: string; group: string } | undefined {
  const ids = (text: string) => new Set(text.split('\n').map((l) => l.split(':')[2]).filter((x): x is string => !!x && /^\d+$/.test(x)).map(Number));
  const names = (text: string) => new Set(text.split('\n').map((l) => l.split(':')[0]).filter(Boolean));
  const haveUid = ids(passwd).has(uid);
  const haveGid = ids(group).has(gid);
  if (haveUid && haveGid) return undefined;
  const free = (taken: Set<string | undefined>) => {
    for (let i = 0; ; i++) if (!taken.has(i ? `isola-app${i}` : 'isola-app')) return i ? `isola-app${i}` : 'isola-app';
  };
  const nl = (t: string) => (t === '' || t.endsWith('\n') ? t : `${t}\n`);
  return {
    passwd: haveUid ? passwd : `${nl(passwd)}${free(names(passwd))}:x:${uid}:${gid}:isola compare workload:/srv/app:/usr/sbin/nologin\n`,
    group: haveGid ? group : `${nl(group)}${free(names(group))}:x:${gid}:\n`,
  };
}

/** argv[0] as an absolute path inside the tree, found on the image's PATH (links followed inside the tree). */
export function resolveCommand(tree: string, argv0: string, env: readonly string[]): string {
  if (argv0.startsWith('/')) return argv0;
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
  for (const dir of pathVar.split(':').filter((d) => d.startsWith('/'))) {
    const p = path.join(dir, argv0);
    let cur = p;
    for (let i = 0; i < 16; i++) {
      const st = fs.lstatSync(path.join(tree, cur), { throwIfNoEntry: false });
      if (!st) break;
      if (!st.isSymbolicLink()) {
        if (st.isFile()) return p;
        break;
      }
      const target = fs.readlinkSync(path.join(tree, cur));
      cur = target.startsWith('/') ? target : path.join(path.dirname(cur), target);
    }
  }
  throw new IsolaError('INVALID_ARGUMENT', `the workload's command "${argv0}" is not on the image's PATH`, 'give the image an ENTRYPOINT or CMD with an absolute path');
}

export interface OsWorkload {
  argv: string[];
  env: string[];
  workdir: string;
  uid: number;
  gid: number;
  /** What it is, for the unit's description. */
  name: string;
}

/** The units and script the workload layer adds to the OS (pure: the tests read them). */
export function osUnits(w: OsWorkload): Record<string, string> {
  const app = [
    '[Unit]',
    `Description=isola compare workload: ${w.name}`,
    'After=isola-net.service isola-marker.service',
    'Wants=isola-net.service',
    '',
    '[Service]',
    'Type=simple',
    // A plain chroot into the image's own files, as the OS's init runs any service (no namespaces
    // beyond the mounts MountAPIVFS= needs for /proc, /sys and /dev inside it).
    'RootDirectory=/srv/app',
    'MountAPIVFS=yes',
    `WorkingDirectory=${w.workdir || '/'}`,
    `User=${w.uid}`,
    `Group=${w.gid}`,
    ...w.env.map((e) => `Environment=${envWord(e)}`),
    `ExecStart=${w.argv.map(unitWord).join(' ')}`,
    'StandardOutput=journal+console',
    'StandardError=journal+console',
    'Restart=no',
    // Run by systemd outside the chroot ("+"), when the workload ends: its result on the console,
    // so a workload that fails is seen at once instead of at the end of the wait for its answer.
    `ExecStopPost=+/bin/sh -c 'echo "${OS_EXITED}: $$SERVICE_RESULT $$EXIT_CODE $$EXIT_STATUS"'`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  const marker = [
    '[Unit]',
    'Description=isola compare: the workload is about to start',
    'Before=isola-app.service',
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=/bin/echo ${OS_MARKER}`,
    'StandardOutput=journal+console',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  const net = [
    '[Unit]',
    'Description=isola: the address the host gave this VM (fw_cfg opt/isola/config)',
    'After=systemd-udev-trigger.service systemd-modules-load.service',
    'Before=network.target isola-app.service',
    'Wants=network.target',
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    'ExecStart=/usr/local/sbin/isola-net',
    'StandardOutput=journal+console',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  // The config is isola's record encoding: NUL-terminated strings tagged by their first byte
  // (i = address/prefix, g = gateway, h = hostname).
  const script = `#!/bin/sh
# The address isola allocated for this VM, from QEMU's fw_cfg (opt/isola/config), on the first
# Ethernet interface. Without the entry (another hypervisor) the OS's own network set-up stands.
cfg=/sys/firmware/qemu_fw_cfg/by_name/opt/isola/config/raw
modprobe qemu_fw_cfg 2>/dev/null
i=0; while [ ! -r "$cfg" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
[ -r "$cfg" ] || { echo "isola-net: no fw_cfg entry opt/isola/config: the OS's own network set-up stands"; exit 0; }
rec() { tr '\\000' '\\n' < "$cfg" | sed -n "s/^$1//p" | head -n 1; }
addr=$(rec i); gw=$(rec g); host=$(rec h)
[ -n "$host" ] && echo "$host" > /proc/sys/kernel/hostname
ip link set lo up
[ -n "$addr" ] || { echo "isola-net: the host gave no address"; exit 0; }
dev=; i=0
while [ -z "$dev" ] && [ $i -lt 100 ]; do
  for d in /sys/class/net/*; do n=\${d##*/}; [ "$n" = lo ] && continue; [ -e "$d/device" ] && { dev=$n; break; }; done
  [ -n "$dev" ] || sleep 0.1; i=$((i+1))
done
[ -n "$dev" ] || { echo "isola-net: no network interface"; exit 1; }
ip link set "$dev" up && ip addr replace "$addr" dev "$dev" || exit 1
[ -z "$gw" ] || ip route replace default via "$gw" dev "$dev"
echo "isola-net: $dev $addr"
`;
  return {
    'etc/systemd/system/isola-app.service': app,
    'etc/systemd/system/isola-marker.service': marker,
    'etc/systemd/system/isola-net.service': net,
    'usr/local/sbin/isola-net': script,
  };
}

export interface FullOsImage {
  /** The whole-disk image's reference in the store. */
  ref: string;
  /** The OS image (the imported Debian system). */
  osRef: string;
  /** The tar of the workload layer (kept for the OVA of the portability rows until `dispose`). */
  layerTar: string;
  workload: OsWorkload;
  kernel?: string;
  osBuildMs: number;
  diskBuildMs: number;
  scratch: string;
  dispose(): void;
}

export interface FullOsOptions {
  engine: Engine;
  /** The workload: the application's image, or the probe image running `sleep`. */
  image: ResolvedImage;
  /** The command when it is not the image's own (the probe image's idle `sleep`). */
  argv?: string[];
  step: (line: string) => void;
  signal: AbortSignal;
}

export function qemuImgPath(engine: Engine): string {
  const p = which('qemu-img', engine.config.searchPath);
  if (!p) throw new IsolaError('UNAVAILABLE', 'qemu-img is not installed', 'install Debian\'s qemu-utils (npm run bootstrap does)');
  return p;
}

function hasImage(engine: Engine, ref: string): boolean {
  const want = ref.includes(':') ? ref : `${ref}:latest`;
  return engine.images().list().some((i) => i.ref === want || i.ref === ref);
}

/** Makes (or finds) the full-OS whole-disk image for a workload. */
export async function fullOsImage(o: FullOsOptions): Promise<FullOsImage> {
  const { engine } = o;
  const osKey = debianRootfsKey(OS_PACKAGES);
  const scratch = path.join(engine.paths.tmp, `compare-os-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(scratch, { recursive: true, mode: 0o700 });
  const dispose = () => fs.rmSync(scratch, { recursive: true, force: true });
  try {
    const t0 = performance.now();
    const built = await debianRootfs({ cacheDir: path.join(engine.config.assets, 'os'), include: [...OS_PACKAGES], onStep: o.step, signal: o.signal });
    const osRef = `isola-compare-os:${osKey}`;
    if (!hasImage(engine, osRef)) {
      o.step(`importing the Debian system as ${osRef}`);
      await importRootfs(engine.images(), built.tarball, osRef, engine.paths.tmp, ['/sbin/init'], engine.config.unpack);
    }
    const osBuildMs = built.built ? performance.now() - t0 : 0;
    const osImage = await engine.resolveImage(osRef);

    // The workload layer: the image's files under /srv/app and the units.
    const tree = path.join(scratch, 'layer');
    const app = path.join(tree, 'srv', 'app');
    fs.mkdirSync(app, { recursive: true });
    await unpackImage(o.image, app, engine.config.unpack);
    const c = o.image.config;
    const argv = o.argv ?? [...c.entrypoint, ...c.cmd];
    if (argv.length === 0) throw new IsolaError('INVALID_ARGUMENT', `image ${o.image.ref} has no command to run as the OS's service`, 'give it an ENTRYPOINT or CMD');
    const env = c.env.length ? c.env : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];
    const { uid, gid } = resolveUser(app, c.user);
    const workload: OsWorkload = { argv: [resolveCommand(app, argv[0] as string, env), ...argv.slice(1)], env, workdir: c.workingDir || '/', uid, gid, name: `${o.image.ref}: ${argv.join(' ')}` };
    const units = osUnits(workload);
    const accounts = osAccounts(await tarFile(built.tarball, 'etc/passwd'), await tarFile(built.tarball, 'etc/group'), uid, gid);
    const files: Record<string, string> = { ...units, ...(accounts ? { 'etc/passwd': accounts.passwd, 'etc/group': accounts.group } : {}) };
    for (const [rel, text] of Object.entries(files)) {
      fs.mkdirSync(path.join(tree, path.dirname(rel)), { recursive: true, mode: 0o755 });
      fs.writeFileSync(path.join(tree, rel), text, { mode: rel.includes('/sbin/') ? 0o755 : 0o644 });
    }
    const wants = path.join(tree, 'etc/systemd/system/multi-user.target.wants');
    fs.mkdirSync(wants, { recursive: true, mode: 0o755 });
    for (const u of ['isola-net.service', 'isola-marker.service', 'isola-app.service']) fs.symlinkSync(`/etc/systemd/system/${u}`, path.join(wants, u));
    // Every folder the layer names keeps the OS's usual modes (the tar records them).
    for (const d of ['', 'srv', 'etc', 'etc/systemd', 'etc/systemd/system', 'usr', 'usr/local', 'usr/local/sbin']) fs.chmodSync(path.join(tree, d), 0o755);
    const layerTar = path.join(scratch, 'workload.tar');
    const t = await run('tar', ['--numeric-owner', '-C', tree, '-cf', layerTar, '.']);
    if (t.code !== 0) throw new IsolaError('INTERNAL', `tar could not pack the workload layer: ${t.stderr.trim()}`, 'check free space under the data root');
    fs.rmSync(tree, { recursive: true, force: true });

    const key = createHash('sha256').update(JSON.stringify({ osKey, os: osImage.digest, image: o.image.digest, files, layout: LAYOUT })).digest('hex').slice(0, 16);
    const ref = `isola-compare-vm-os:${key}`;
    let diskBuildMs = 0;
    let kernel: string | undefined;
    if (!hasImage(engine, ref)) {
      const t1 = performance.now();
      const r = await exportOs(engine, osImage, layerTar, workload, path.join(scratch, 'disk.qcow2'), 'qcow2', path.join(scratch, 'export'), o.step);
      kernel = r.kernel;
      o.step(`storing the full-OS disk as ${ref}`);
      fs.mkdirSync(path.join(scratch, 'import'), { recursive: true, mode: 0o700 });
      await importVm(engine.images(), path.join(scratch, 'disk.qcow2'), ref, {
        scratch: path.join(scratch, 'import'), qemuImg: qemuImgPath(engine), firmware: 'bios', bus: 'virtio', cpus: 1, memoryMiB: OS_MEMORY_MIB,
        history: `isola compare: ${OS_DESCRIPTION}, running ${workload.name}`,
      });
      fs.rmSync(path.join(scratch, 'disk.qcow2'), { force: true });
      diskBuildMs = performance.now() - t1;
    }
    kernel ??= await osKernel(built.tarball);
    return { ref, osRef, layerTar, workload, ...(kernel ? { kernel } : {}), osBuildMs, diskBuildMs, scratch, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}

/** One file of a tarball as text ("" when it is not there). */
async function tarFile(tarball: string, rel: string): Promise<string> {
  const r = await run('tar', ['-xOf', tarball, `./${rel}`]);
  return r.code === 0 ? r.stdout : '';
}

/** The OS's kernel version, read once from the tarball's /boot and kept beside it. */
async function osKernel(tarball: string): Promise<string | undefined> {
  const side = `${tarball}.kernel`;
  try {
    return fs.readFileSync(side, 'utf8').trim() || undefined;
  } catch {
    /* not read yet */
  }
  const r = await run('tar', ['-tf', tarball]);
  const v = r.stdout.split('\n').map((l) => /^\.?\/?boot\/vmlinuz-(.+)$/.exec(l)?.[1]).find((x) => x !== undefined);
  if (v) fs.writeFileSync(side, `${v}\n`);
  return v;
}

/** `isola export` of the OS with the workload layer on top: a whole disk booting the OS's own kernel. */
export async function exportOs(engine: Engine, osImage: ResolvedImage, layerTar: string, w: OsWorkload, out: string, format: DiskFormat, scratch: string, step: (s: string) => void): Promise<ExportResult> {
  const assets = readGuestAssets(engine.config.assets);
  if (!assets) throw new IsolaError('UNAVAILABLE', 'the guest kernel and init are not set up', 'run npm run bootstrap once');
  try {
    return await exportDisk({
      image: osImage, extraLayers: [layerTar], workload: { argv: [], env: w.env, workdir: '/', user: '', hostname: 'vm-os' },
      cpus: 1, memoryMiB: OS_MEMORY_MIB, freeBytes: 256 * 1024 * 1024, format, out, scratch, assets, boot: 'os', qemuImg: qemuImgPath(engine),
      limits: engine.config.unpack, onStep: (s) => step(`full-OS disk: ${s}`),
    });
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
