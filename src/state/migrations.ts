/**
 * Schema migrations, applied in order; PRAGMA user_version records how many have run.
 * Never edit a migration that has shipped: add a new one.
 */
export const MIGRATIONS: string[] = [
  `CREATE TABLE instances (
     id            TEXT PRIMARY KEY,
     name          TEXT NOT NULL UNIQUE,
     kind          TEXT NOT NULL,
     image_ref     TEXT NOT NULL,
     image_digest  TEXT NOT NULL,
     state         TEXT NOT NULL CHECK (state IN ('creating', 'created', 'running', 'exited')),
     created_at    TEXT NOT NULL,
     started_at    TEXT,
     finished_at   TEXT,
     exit_code     INTEGER,
     oom_killed    INTEGER NOT NULL DEFAULT 0,
     ip            TEXT UNIQUE,
     auto_remove   INTEGER NOT NULL DEFAULT 0,
     cleaned       INTEGER NOT NULL DEFAULT 0,
     spec_json     TEXT NOT NULL,
     driver_json   TEXT NOT NULL DEFAULT '{}'
   )`,
  `CREATE INDEX instances_state ON instances(state)`,
  // Published ports (-p) and the pids of their forwarders.
  `ALTER TABLE instances ADD COLUMN ports_json TEXT NOT NULL DEFAULT '[]'`,
  // A 'dead' state (a create whose process died before it finished), the process that is
  // creating an instance (pid, start time, boot), and the boot an instance was started in.
  // SQLite cannot change a CHECK constraint in place: the table is rebuilt.
  `CREATE TABLE instances_v4 (
     id            TEXT PRIMARY KEY,
     name          TEXT NOT NULL UNIQUE,
     kind          TEXT NOT NULL,
     image_ref     TEXT NOT NULL,
     image_digest  TEXT NOT NULL,
     state         TEXT NOT NULL CHECK (state IN ('creating', 'created', 'running', 'exited', 'dead')),
     created_at    TEXT NOT NULL,
     started_at    TEXT,
     finished_at   TEXT,
     exit_code     INTEGER,
     oom_killed    INTEGER NOT NULL DEFAULT 0,
     ip            TEXT UNIQUE,
     auto_remove   INTEGER NOT NULL DEFAULT 0,
     cleaned       INTEGER NOT NULL DEFAULT 0,
     spec_json     TEXT NOT NULL,
     driver_json   TEXT NOT NULL DEFAULT '{}',
     ports_json    TEXT NOT NULL DEFAULT '[]',
     owner_json    TEXT,
     boot_id       TEXT
   );
   INSERT INTO instances_v4 (id, name, kind, image_ref, image_digest, state, created_at, started_at, finished_at, exit_code,
                             oom_killed, ip, auto_remove, cleaned, spec_json, driver_json, ports_json)
     SELECT id, name, kind, image_ref, image_digest, state, created_at, started_at, finished_at, exit_code,
            oom_killed, ip, auto_remove, cleaned, spec_json, driver_json, ports_json FROM instances;
   DROP TABLE instances;
   ALTER TABLE instances_v4 RENAME TO instances;
   CREATE INDEX instances_state ON instances(state)`,
  // Volumes (-v NAME:PATH, volume create): the data lives in <root>/volumes/<name>/_data; which
  // instances use one is read from their specs' mounts.
  `CREATE TABLE volumes (
     name          TEXT PRIMARY KEY,
     created_at    TEXT NOT NULL,
     anonymous     INTEGER NOT NULL DEFAULT 0,
     labels_json   TEXT NOT NULL DEFAULT '{}'
   )`,
  // User networks (`isola network create`), and every interface of every instance: which
  // network, which address. UNIQUE (network_id, ip) is what keeps two concurrent creates from
  // taking one address; the default network's id is 'bridge'. Instances made before have one
  // interface, eth0 on the default network, with the address the instances table holds.
  `CREATE TABLE networks (
     id          TEXT PRIMARY KEY,
     name        TEXT NOT NULL UNIQUE,
     subnet      TEXT NOT NULL UNIQUE,
     gateway     TEXT NOT NULL,
     bridge      TEXT NOT NULL UNIQUE,
     created_at  TEXT NOT NULL,
     state       TEXT NOT NULL CHECK (state IN ('creating', 'ready')),
     owner_json  TEXT
   );
   CREATE TABLE endpoints (
     instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
     network_id  TEXT NOT NULL,
     ip          TEXT NOT NULL,
     ifname      TEXT NOT NULL,
     PRIMARY KEY (instance_id, network_id),
     UNIQUE (network_id, ip),
     UNIQUE (instance_id, ifname)
   );
   CREATE INDEX endpoints_network ON endpoints(network_id);
   INSERT INTO endpoints (instance_id, network_id, ip, ifname)
     SELECT id, 'bridge', ip, 'eth0' FROM instances WHERE ip IS NOT NULL`,
  // Lifecycle (docs/LIFECYCLE.md): restart policy bookkeeping, pause, health, and an events table.
  // run_seq counts the starts of an instance: a writer that observed an earlier run cannot
  // record its exit over a later one. restart_json is a restart waiting for its back-off, with
  // the process that will do it; health_json is the health state of the current run.
  `ALTER TABLE instances ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE instances ADD COLUMN run_seq INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE instances ADD COLUMN stopped_by_user INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE instances ADD COLUMN restart_json TEXT;
   ALTER TABLE instances ADD COLUMN backoff_ms INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE instances ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE instances ADD COLUMN health_json TEXT;
   CREATE TABLE events (
     seq            INTEGER PRIMARY KEY AUTOINCREMENT,
     time_us        INTEGER NOT NULL,
     type           TEXT NOT NULL,
     action         TEXT NOT NULL,
     actor_id       TEXT NOT NULL,
     attributes_json TEXT NOT NULL DEFAULT '{}'
   );
   CREATE INDEX events_time ON events(time_us)`,
  // Snapshots (`isola snapshot`, docs/SNAPSHOTS.md): one row per snapshot of an instance's disk or
  // writable layer, removed with the instance. 'creating' rows name the process making them, so
  // one whose maker died is found again and removed (system prune).
  `CREATE TABLE snapshots (
     id           TEXT PRIMARY KEY,
     instance_id  TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
     name         TEXT NOT NULL,
     kind         TEXT NOT NULL,
     state        TEXT NOT NULL CHECK (state IN ('creating', 'ready')),
     created_at   TEXT NOT NULL,
     bytes        INTEGER NOT NULL DEFAULT 0,
     owner_json   TEXT,
     UNIQUE (instance_id, name)
   )`,
  // Machines (`isola machine`): long-lived VMs that host many containers. A machine takes an
  // address on a network as an instance does; the allocators read both tables. owner_json is the
  // process that is creating it (a record left 'creating' by a dead owner is removed by reconcile).
  `CREATE TABLE machines (
     id          TEXT PRIMARY KEY,
     name        TEXT NOT NULL UNIQUE,
     state       TEXT NOT NULL CHECK (state IN ('creating', 'stopped', 'running')),
     created_at  TEXT NOT NULL,
     network_id  TEXT NOT NULL,
     ip          TEXT NOT NULL,
     spec_json   TEXT NOT NULL,
     driver_json TEXT NOT NULL DEFAULT '{}',
     owner_json  TEXT,
     UNIQUE (network_id, ip)
   )`,
  // Compose revisions (`isola compose up`, `compose rollback`, docs/COMPOSE.md): what each service
  // of a stack was made from, one row per change (its image digest, config hash and the service as
  // resolved), so a rollback knows the previous revision. Rows outlive the instances on purpose.
  `CREATE TABLE compose_revisions (
     project       TEXT NOT NULL,
     service       TEXT NOT NULL,
     seq           INTEGER NOT NULL,
     created_at    TEXT NOT NULL,
     image_ref     TEXT NOT NULL,
     image_digest  TEXT NOT NULL,
     config_hash   TEXT NOT NULL,
     service_json  TEXT NOT NULL,
     PRIMARY KEY (project, service, seq)
   )`,
];
