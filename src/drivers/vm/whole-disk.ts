import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ResolvedImage, Stats } from '../../core/types.js';
import type { CacheLayout } from '../../core/cache-layout.js';
import { IsolaError } from '../../core/errors.js';
import { DISK_PATH } from '../../image/disk-image.js';
import { unpackImage, type UnpackLimits } from '../../image/unpack.js';
import { withLock } from '../../util/lock.js';
import { diskInfo, mustBeStandalone } from '../../util/qemu-img.js';
import { readStatus } from './monitor.js';
import type { VmData, WholeDiskData } from './persist.js';
import { vmmOverheadBytes } from './stats.js';

/**
 * What a whole-disk VM needs beyond any VM: its disk out of the image, how its boot went (the
 * firmware's words), its exit status when no isola init reports one, and host-side stats.
 */

/**
 * The image's disk, taken out of its layer into the cache once per image and never written
 * again (each instance has its own overlay). Checked like an imported disk: a qcow2 that names
 * no backing file.
 */
export async function ensureWholeDisk(image: ResolvedImage, cache: CacheLayout, qemuImg: string, limits: UnpackLimits = {}): Promise<string> {
  const target = cache.wholeDisk(image.digest);
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  return withLock(cache.lock(target), async () => {
    if (fs.existsSync(target)) return target;
    const tree = cache.scratch('whole-disk', `${randomBytes(4).toString('hex')}.tree`);
    try {
      await unpackImage(image, tree, limits);
      const disk = path.join(tree, DISK_PATH);
      if (!fs.lstatSync(disk, { throwIfNoEntry: false })?.isFile()) {
        throw new IsolaError('INVALID_ARGUMENT', `image ${image.ref} is labelled a whole-disk VM but holds no ${DISK_PATH}`, 'import the disk again with isola import-vm');
      }
      const info = await diskInfo(qemuImg, disk, 'qcow2');
      mustBeStandalone(info, disk);
      // QEMU reads it as the VM's own uid: readable by all, written by none.
      fs.chownSync(disk, 0, 0);
      fs.chmodSync(disk, 0o444);
      fs.renameSync(disk, target);
      return target;
    } finally {
      fs.rmSync(tree, { recursive: true, force: true });
    }
  });
}

/** How far the firmware got: booting the disk's own loader, or finding nothing to boot. */
export type FirmwareOutcome = 'booting' | 'no-boot' | null;

/**
 * SeaBIOS writes to its debug port "Booting from 0000:7c00" when it jumps to a boot sector and
 * "No bootable device." when none was found. OVMF says on the serial console which boot option
 * it starts; its built-in shell means no disk held a UEFI loader.
 */
export function firmwareOutcome(firmware: 'bios' | 'uefi', debugLog: string, consoleText: string): FirmwareOutcome {
  if (firmware === 'bios') {
    if (/No bootable device/.test(debugLog)) return 'no-boot';
    if (/Booting from [0-9a-f]{4}:7c00/i.test(debugLog)) return 'booting';
    return null;
  }
  if (/BdsDxe: starting Boot\w+ "EFI Internal Shell"/.test(consoleText) || /No bootable option or device was found/.test(consoleText)) return 'no-boot';
  if (/BdsDxe: starting Boot\w+ "(?!EFI Internal Shell)/.test(consoleText)) return 'booting';
  return null;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

export function readFirmwareOutcome(v: VmData, w: WholeDiskData): FirmwareOutcome {
  return firmwareOutcome(w.firmware, read(w.firmwareLog), w.firmware === 'uefi' ? read(v.files.console) : '');
}

/** Exit statuses of a whole-disk VM without isola's init, which no guest reports. */
export const EXIT_POWERED_OFF = 0;
export const EXIT_NO_BOOTABLE_DEVICE = 1;
export const NO_BOOT_MESSAGE = 'isola: the firmware found no bootable device on the disk (no bootloader): the VM stopped';

/** Records an exit status in the status file, unless one is there (the first word stands). */
export function recordExit(v: VmData, code: number): void {
  if (readStatus(v.files.status).exitCode !== null) return;
  fs.appendFileSync(v.files.status, `exit ${code}\n`);
}

/**
 * Once QEMU is gone, the exit status of a VM whose guest reports none: 1 when the firmware found
 * nothing to boot (said in the log too), else 0 (its OS powered off), unless isola killed it
 * (recorded as 137 before the kill).
 */
export function settleExit(v: VmData, w: WholeDiskData): void {
  const noBoot = readFirmwareOutcome(v, w) === 'no-boot';
  if (noBoot && !read(v.files.console).includes(NO_BOOT_MESSAGE)) fs.appendFileSync(v.files.console, `\n${NO_BOOT_MESSAGE}\n`);
  recordExit(v, noBoot ? EXIT_NO_BOOTABLE_DEVICE : EXIT_POWERED_OFF);
}

/** USER_HZ: /proc/PID/stat counts in 1/100 s. */
const TICK_NS = 10_000_000;

function counter(file: string): number | null {
  const t = read(file).trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/**
 * Stats seen from the host, for a VM without isola's init: QEMU's CPU time, the part of the
 * guest's RAM it has touched (resident in QEMU's guest-RAM mapping) apart from what QEMU itself
 * costs, and its tap's counters (the tap receives what the guest sends).
 */
export function hostSideStats(v: VmData): Omit<Stats, 'time'> {
  const stat = read(`/proc/${v.pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuNanos = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * TICK_NS;
  const mem = vmmOverheadBytes(read(`/proc/${v.pid}/smaps`), v.memoryMiB * 1024 * 1024);
  const net = (name: string) => (v.tap ? counter(`/sys/class/net/${v.tap}/statistics/${name}`) : null);
  return {
    cpuNanos,
    memoryBytes: mem.guestRss,
    hostOverheadBytes: mem.overhead,
    memoryLimitBytes: v.memoryMiB * 1024 * 1024,
    pids: null,
    netRxBytes: net('tx_bytes'),
    netTxBytes: net('rx_bytes'),
  };
}
