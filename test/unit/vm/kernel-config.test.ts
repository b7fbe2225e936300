import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SOURCE_TARBALL, STALE_BUILD_MS, kernelCacheDir, kernelKey, kernelPatches, lostOptions, parseKconfig, readIsolaKernel, fragmentPath, removeStaleBuilds } from '../../../src/guest/kernel-build.js';
import { LAYOUT, guestBoot, guestSourceDir, manifestPath, readGuestAssets, type GuestAssets } from '../../../src/guest/assets.js';
import { isIsolaError } from '../../../src/core/errors.js';

test('parseKconfig reads set options, unset options, and skips comments', () => {
  const m = parseKconfig('# a comment\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C="text"\n\nCONFIG_D=64\n');
  assert.deepEqual([...m], [['CONFIG_A', 'y'], ['CONFIG_B', 'n'], ['CONFIG_C', '"text"'], ['CONFIG_D', '64']]);
});

test('an option olddefconfig dropped (dependencies unmet) is reported', () => {
  const fragment = 'CONFIG_VIRTIO_FS=y\nCONFIG_FUSE_FS=y\n';
  const result = '# CONFIG_VIRTIO_FS is not set\nCONFIG_FUSE_FS=y\n';
  assert.deepEqual(lostOptions(fragment, result), ['CONFIG_VIRTIO_FS=y (got n)']);
});

test('an option the kernel does not know (absent from the result) is reported', () => {
  const lost = lostOptions('CONFIG_NO_SUCH_THING=y\n', 'CONFIG_OTHER=y\n');
  assert.equal(lost.length, 1);
  assert.match(lost[0] ?? '', /^CONFIG_NO_SUCH_THING=y \(got nothing/);
});

test('a value changed (a module instead of built in, another number) is reported', () => {
  assert.deepEqual(lostOptions('CONFIG_EXT4_FS=y\nCONFIG_NR_CPUS=64\n', 'CONFIG_EXT4_FS=m\nCONFIG_NR_CPUS=8\n'), ['CONFIG_EXT4_FS=y (got m)', 'CONFIG_NR_CPUS=64 (got 8)']);
});

test('an option off in the fragment may be off or absent in the result, but not on', () => {
  assert.deepEqual(lostOptions('# CONFIG_VT is not set\n# CONFIG_INPUT is not set\n', '# CONFIG_VT is not set\n'), []);
  assert.deepEqual(lostOptions('# CONFIG_VT is not set\n', 'CONFIG_VT=y\n'), ['CONFIG_VT=n (got y)']);
});

test('the fragment in the repository keeps everything the guest needs built in', () => {
  const m = parseKconfig(fs.readFileSync(fragmentPath(guestSourceDir()), 'utf8'));
  for (const o of ['PVH', 'VIRTIO_MMIO', 'VIRTIO_PCI', 'VIRTIO_BLK', 'VIRTIO_NET', 'VIRTIO_CONSOLE', 'VIRTIO_FS', 'FUSE_FS', 'EXT4_FS', 'OVERLAY_FS',
    'CGROUPS', 'MEMCG', 'NAMESPACES', 'PID_NS', 'NET_NS', 'USER_NS', 'SECCOMP_FILTER', 'SERIAL_8250_CONSOLE', 'ACPI', 'BLK_DEV_INITRD', 'DEVTMPFS']) {
    assert.equal(m.get(`CONFIG_${o}`), 'y', `CONFIG_${o}=y`);
  }
  // Built in, never a module: the initramfs carries none.
  assert.ok(![...m.values()].includes('m'));
});

test('the kernel\'s patches are read from beside the fragment, in name order, and apply to the source tarball', async () => {
  const patches = kernelPatches(fragmentPath(guestSourceDir()));
  assert.ok(patches.some((p) => p.name === '0001-lapic-timer-hz.patch'));
  assert.deepEqual(patches.map((p) => p.name), [...patches.map((p) => p.name)].sort());
  // Each applies to the file it names in Debian's linux-source (a dry run on that one file).
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kpatch-'));
  try {
    for (const p of patches) {
      const file = /^\+\+\+ b\/(\S+)/m.exec(p.text)?.[1];
      assert.ok(file, `${p.name} names its file`);
      const got = spawnSync('tar', ['-xf', SOURCE_TARBALL, '-C', tmp, '--wildcards', `*/${file}`]);
      assert.equal(got.status, 0, `${file} is in ${SOURCE_TARBALL}`);
      const top = fs.readdirSync(tmp)[0]!;
      const dry = spawnSync('patch', ['-p1', '--dry-run', '--batch', '--forward', '-i', '-'], { cwd: path.join(tmp, top), input: p.text });
      assert.equal(dry.status, 0, `${p.name}: ${String(dry.stdout)}${String(dry.stderr)}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('the cache key changes with each input, and a cached build is found by it alone', () => {
  const k = kernelKey('CONFIG_A=y\n', '6.1.192-3', 'gcc 12.2.0');
  assert.notEqual(k, kernelKey('CONFIG_A=y\nCONFIG_B=y\n', '6.1.192-3', 'gcc 12.2.0'));
  assert.notEqual(k, kernelKey('CONFIG_A=y\n', '6.1.193-1', 'gcc 12.2.0'));
  assert.notEqual(k, kernelKey('CONFIG_A=y\n', '6.1.192-3', 'gcc 13.1.0'));
  const patch = { name: '0001-x.patch', text: '--- a/x\n+++ b/x\n' };
  assert.notEqual(k, kernelKey('CONFIG_A=y\n', '6.1.192-3', 'gcc 12.2.0', [patch]), 'a patch');
  assert.notEqual(kernelKey('CONFIG_A=y\n', '6.1.192-3', 'gcc 12.2.0', [patch]), kernelKey('CONFIG_A=y\n', '6.1.192-3', 'gcc 12.2.0', [{ ...patch, text: `${patch.text} ` }]), 'a patch\'s text');
  const assets = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kcache-'));
  try {
    assert.equal(readIsolaKernel(assets, k), null);
    const dir = kernelCacheDir(assets, k);
    assert.ok(dir.startsWith(assets));
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'vmlinux'), 'ELF');
    fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify({ vmlinux: path.join(dir, 'vmlinux'), config: '', release: '6.1.192-isola', key: k, sourceVersion: '6.1.192-3', compiler: 'gcc' }));
    assert.equal(readIsolaKernel(assets, k)?.release, '6.1.192-isola');
    // Another key's build is not taken for this one.
    assert.equal(readIsolaKernel(assets, kernelKey('x', 'y', 'z')), null);
  } finally {
    fs.rmSync(assets, { recursive: true, force: true });
  }
});

test('a kernel cache copied to another assets folder is found there, by its own folder', () => {
  const k = kernelKey('CONFIG_A=y\n', '6.1.192-3', 'gcc 12.2.0');
  const first = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kcache-a-'));
  const second = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kcache-b-'));
  try {
    const dir = kernelCacheDir(first, k);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'vmlinux'), 'ELF');
    fs.writeFileSync(path.join(dir, 'kernel.json'), JSON.stringify({ vmlinux: path.join(dir, 'vmlinux'), config: path.join(dir, 'config'), release: '6.1.192-isola', key: k, sourceVersion: '6.1.192-3', compiler: 'gcc' }));
    fs.cpSync(first, second, { recursive: true });
    fs.rmSync(first, { recursive: true, force: true });
    // kernel.json still names the first folder, which is gone.
    assert.equal(readIsolaKernel(second, k)?.vmlinux, path.join(kernelCacheDir(second, k), 'vmlinux'));
  } finally {
    fs.rmSync(first, { recursive: true, force: true });
    fs.rmSync(second, { recursive: true, force: true });
  }
});

test('a guest manifest naming a file that is gone is not ready, isola\'s kernel included', () => {
  const assets = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-manifest-'));
  try {
    const file = (name: string): string => { const f = path.join(assets, name); fs.writeFileSync(f, 'x'); return f; };
    const m = {
      layout: LAYOUT, kernelVersion: '6.1.0-57-cloud-amd64', kernelPackage: 'linux-image', kernel: file('vmlinuz'), initramfs: file('initramfs.cpio'),
      init: file('init'), initHash: 'h', modules: [], kernelDir: assets, diskModules: [], vmmJail: file('jail'), vfsLaunch: file('vfs'), ttyRelay: file('relay'), exitWatch: file('watch'),
      isolaKernel: { vmlinux: file('vmlinux'), release: '6.1.192-isola', key: 'k', initramfs: file('initramfs-isola.cpio') },
    };
    fs.mkdirSync(path.dirname(manifestPath(assets)), { recursive: true });
    fs.writeFileSync(manifestPath(assets), JSON.stringify(m));
    assert.ok(readGuestAssets(assets));
    for (const gone of ['vmlinux', 'vfs']) {
      fs.rmSync(path.join(assets, gone));
      assert.equal(readGuestAssets(assets), null, `${gone} removed`);
      file(gone);
    }
  } finally {
    fs.rmSync(assets, { recursive: true, force: true });
  }
});

test('guestBoot: the cloud kernel always, isola\'s only where it is built (one-line refusal)', () => {
  const a = { kernel: '/k/vmlinuz', initramfs: '/k/initramfs.cpio', kernelVersion: '6.1.0-57-cloud-amd64' } as GuestAssets;
  assert.equal(guestBoot(a, 'cloud').kernel, '/k/vmlinuz');
  assert.match(guestBoot(a, 'cloud').kernelVersion, /cloud/);
  assert.throws(() => guestBoot(a, 'isola'), (e: unknown) => isIsolaError(e) && /not built/.test(e.message) && /ISOLA_VM_KERNEL=cloud/.test(e.oneLine()));
});

test('a killed build\'s unpacked source is removed once stale; a running build\'s is kept', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'isola-kstale-'));
  try {
    const old = path.join(dir, '.isola-build-old');
    const fresh = path.join(dir, '.isola-build-new');
    const kept = path.join(dir, 'isola-0123456789abcdef');
    for (const d of [old, fresh, kept]) fs.mkdirSync(path.join(d, 'linux-source-6.1'), { recursive: true });
    const now = Date.now();
    const past = (now - STALE_BUILD_MS - 1000) / 1000;
    fs.utimesSync(old, past, past);
    fs.utimesSync(kept, past, past);
    assert.deepEqual(removeStaleBuilds(dir, now), [old]);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['.isola-build-new', 'isola-0123456789abcdef']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
