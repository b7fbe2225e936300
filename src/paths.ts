import path from 'node:path';

/**
 * Where isola keeps things. Everything it writes lives under the data root (or, for the large
 * shared guest assets, under the cache), except network devices and cgroups, which carry an
 * `isola` prefix so cleanup can find them.
 */
export interface Paths {
  root: string;
  db: string;
  images: string; // OCI image layout
  instances: string; // one folder per instance: bundle, logs, disks
  run: string; // runtime files: sockets, pidfiles, exit files
  cache: string; // unpacked layers, root disks built per image digest
}

export function dataRoot(): string {
  return path.resolve(process.env.ISOLA_ROOT ?? '/var/lib/isola');
}

/** Guest kernels and built guest programs; shared by every data root (tests make many roots). */
export function assetsDir(): string {
  return path.resolve(process.env.ISOLA_ASSETS ?? '/var/cache/isola');
}

export function pathsFor(root = dataRoot()): Paths {
  return {
    root,
    db: path.join(root, 'isola.db'),
    images: path.join(root, 'images'),
    instances: path.join(root, 'instances'),
    run: path.join(root, 'run'),
    cache: path.join(root, 'cache'),
  };
}
