/**
 * The bootstrap's guest step (scripts/bootstrap.sh runs `node dist/src/cli/setup.js`): sets up
 * the guest kernel, init and initramfs, then asks the VM driver what this host's accelerator is,
 * so the KVM boot probe's verdict is cached before the first VM.
 */
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../core/config.js';
import { IsolaError } from '../core/errors.js';
import { log, setupGuest } from '../guest/setup.js';
import { Drivers } from '../drivers/registry.js';

async function setup(argv: string[]): Promise<number> {
  const started = Date.now();
  try {
    const config = loadConfig();
    await setupGuest(config.assets, { refresh: argv.includes('--refresh'), env: config.env, searchPath: config.searchPath });
    const vm = await new Drivers(config).get('vm').probe();
    log(`accelerator: ${vm.details.accelerator ?? 'unknown'}${vm.details.kvm ? ` (KVM ${vm.details.kvm})` : ''}`);
    log(`done in ${((Date.now() - started) / 1000).toFixed(2)} s`);
    return 0;
  } catch (e) {
    const msg = e instanceof IsolaError ? e.oneLine() : (e as Error).message;
    process.stderr.write(`guest: setup failed: ${msg}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await setup(process.argv.slice(2));
}
