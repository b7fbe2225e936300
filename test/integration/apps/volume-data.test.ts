import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { debianRootfs } from '../../helpers/debian-image.js';

/**
 * An application's data in a named volume: a SQLite database (python3's sqlite3 on Debian 12)
 * written by one instance, which is then removed; a new `run` with the same volume finds the
 * rows and adds its own. For a container and for a VM (the volume shared over virtiofs), and
 * across kinds: the volume is one folder on the host, whichever kind opened it last.
 */
const SCRIPT = `
import sqlite3, sys
db = sqlite3.connect('/var/lib/app/app.db')
db.execute('CREATE TABLE IF NOT EXISTS visits (who TEXT)')
db.execute('INSERT INTO visits VALUES (?)', (sys.argv[1],))
db.commit()
print(','.join(r[0] for r in db.execute('SELECT who FROM visits ORDER BY rowid')))
`;

describe('data in a named volume survives rm and a new run', { timeout: 900_000 }, () => {
  let fx: Fixture;
  const cli = (args: string[], timeoutMs = 300_000) => isola(fx.root, args, { timeoutMs });

  before(async () => {
    fx = await makeFixture();
    const imported = await cli(['import', await debianRootfs(['python3']), 'debian:bookworm', '--cmd', 'bash']);
    assert.equal(imported.code, 0, imported.stderr);
  });
  after(async () => {
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  for (const kind of ['container', 'vm'] as const) {
    test(`as a ${kind}: a SQLite database in the volume outlives its instance`, async () => {
      const vol = `db-${kind}`;
      const first = await cli(['run', '--name', `first-${kind}`, '--as', kind, '-v', `${vol}:/var/lib/app`, 'debian:bookworm', 'python3', '-c', SCRIPT, 'first']);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout.trim(), 'first');
      assert.equal((await cli(['rm', '-v', `first-${kind}`])).code, 0, 'rm -v removes anonymous volumes only');
      const second = await cli(['run', '--rm', '--as', kind, '-v', `${vol}:/var/lib/app`, 'debian:bookworm', 'python3', '-c', SCRIPT, 'second']);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout.trim(), 'first,second');
      const ls = JSON.parse((await cli(['volume', 'ls', '--json'])).stdout) as { Name: string; UsedBy: string[] }[];
      assert.deepEqual(ls.find((v) => v.Name === vol)?.UsedBy, [], 'no instance left using it');
    });
  }

  test('the same volume opened by a container after a VM wrote to it', async () => {
    const r = await cli(['run', '--rm', '-v', 'db-vm:/var/lib/app', 'debian:bookworm', 'python3', '-c', SCRIPT, 'container']);
    assert.equal(r.stdout.trim(), 'first,second,container');
    for (const v of ['db-container', 'db-vm']) assert.equal((await cli(['volume', 'rm', v])).code, 0);
  });
});
