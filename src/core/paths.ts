import path from 'node:path';

/**
 * Where isola keeps things under one data root. Everything it writes lives under the data root
 * (or, for the large shared guest assets, under the assets folder of the configuration),
 * except network devices and cgroups, which carry an `isola` prefix so cleanup can find them.
 * What lives inside `cache` is cache-layout.ts's to say.
 */
export interface Paths {
  root: string;
  db: string;
  images: string; // OCI image layout
  instances: string; // one folder per instance: bundle, logs, disks
  run: string; // runtime files: sockets, pidfiles, exit files, OCI runtime state
  cache: string; // what is derived from images: unpacked roots, root disks
  tmp: string; // scratch work (an import's unpack check, a build's context); each entry names its process
  volumes: string; // named and anonymous volumes: volumes/<name>/_data
}

export function pathsFor(root: string): Paths {
  return {
    root,
    db: path.join(root, 'isola.db'),
    images: path.join(root, 'images'),
    instances: path.join(root, 'instances'),
    run: path.join(root, 'run'),
    cache: path.join(root, 'cache'),
    tmp: path.join(root, 'tmp'),
    volumes: path.join(root, 'volumes'),
  };
}
