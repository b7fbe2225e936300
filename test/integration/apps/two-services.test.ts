import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { debianRootfs } from '../../helpers/debian-image.js';

/**
 * Two services of a real application on one user network, as a compose file would run them: an
 * API served by python3's http.server on Debian, and a client that calls it by name. As two
 * containers, and with a VM on either side; a third instance, on another network, reaches
 * neither and does not know their names.
 */
describe('two services on a user network find each other by name; another network is apart', { timeout: 20 * 60_000 }, () => {
  let fx: Fixture;
  const cli = (args: string[], timeoutMs = 300_000) => isola(fx.root, args, { timeoutMs });
  const ips: Record<string, string> = {};

  /** A python3 client: GET http://NAME:8000/hostname, retried while the server starts. */
  const client = (name: string) => ['python3', '-c', [
    'import time, urllib.request',
    'for i in range(600):',
    '    try:',
    `        print(urllib.request.urlopen("http://${name}:8000/hostname", timeout=5).read().decode().strip()); break`,
    '    except Exception as e:',
    '        time.sleep(0.2)',
    'else:',
    '    raise SystemExit("no answer")',
  ].join('\n')];

  async function serve(name: string, kind: 'container' | 'vm'): Promise<string> {
    const r = await cli(['run', '-d', '--name', name, '--hostname', `${name}-host`, '--as', kind, '-m', '256m', '--network', 'shop', 'debian:bookworm',
      'python3', '-m', 'http.server', '8000', '--directory', '/etc']);
    assert.equal(r.code, 0, r.stderr);
    const [doc] = JSON.parse((await cli(['inspect', name])).stdout) as { NetworkSettings: { IPAddress: string } }[];
    ips[name] = doc?.NetworkSettings.IPAddress ?? '';
    return `${name}-host`;
  }

  before(async () => {
    fx = await makeFixture();
    const rootfs = await debianRootfs(['python3']);
    const imported = await cli(['import', rootfs, 'debian:bookworm', '--cmd', 'bash']);
    assert.equal(imported.code, 0, imported.stderr);
    for (const n of ['shop', 'elsewhere']) assert.equal((await cli(['network', 'create', n])).code, 0);
  });
  after(async () => {
    const ps = JSON.parse((await cli(['ps', '-a', '--json'])).stdout || '[]') as { id: string }[];
    if (ps.length) await cli(['rm', '-f', ...ps.map((p) => p.id)]);
    await cli(['network', 'rm', 'shop', 'elsewhere']);
    assert.deepEqual(hostLeftovers(fx), []);
    await fx.dispose();
  });

  test('container + container: the client calls the API by its name', async () => {
    const host = await serve('api', 'container');
    const r = await cli(['run', '--rm', '--network', 'shop', 'debian:bookworm', ...client('api')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), host);
  });

  test('container + VM: a VM client calls the container API by name, a container client calls a VM API by name', async () => {
    const vmClient = await cli(['run', '--rm', '--as', 'vm', '-m', '256m', '--network', 'shop', 'debian:bookworm', ...client('api')]);
    assert.equal(vmClient.code, 0, vmClient.stderr);
    assert.equal(vmClient.stdout.trim(), 'api-host');
    const host = await serve('vmapi', 'vm');
    const r = await cli(['run', '--rm', '--network', 'shop', 'debian:bookworm', ...client('vmapi')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), host);
  });

  test('hybrid: a container inside a VM calls the API by name', async () => {
    const r = await cli(['run', '--rm', '--as', 'hybrid', '--network', 'shop', 'base', 'sh', '-c',
      'for i in $(seq 100); do wget -q -O - http://api:8000/hostname && exit 0; sleep 0.3; done; exit 1']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'api-host');
  });

  test('a running VM learns the name of an instance that joins after it', async () => {
    // The VM's /etc/hosts is its guest's own copy: isola hands it the new one through the agent.
    const r = await cli(['run', '-d', '--name', 'watcher', '--as', 'vm', '--network', 'shop', 'base', 'sh', '-c',
      'until grep -q latecomer /etc/hosts; do sleep 0.2; done; until wget -q -O - http://latecomer:8000/hostname; do sleep 0.2; done; sleep 600']);
    assert.equal(r.code, 0, r.stderr);
    const host = await serve('latecomer', 'container');
    let logs = '';
    for (let i = 0; i < 100 && !logs.includes(host); i++) {
      logs = (await cli(['logs', 'watcher'])).stdout;
      await new Promise((res) => setTimeout(res, 300));
    }
    assert.equal(logs.trim(), host);
    assert.equal((await cli(['rm', '-f', 'latecomer'])).code, 0);
    // And forgets it when it goes.
    let hosts = '';
    for (let i = 0; i < 50; i++) {
      hosts = (await cli(['exec', 'watcher', 'cat', '/etc/hosts'])).stdout;
      if (!hosts.includes('latecomer')) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    assert.doesNotMatch(hosts, /latecomer/);
    assert.equal((await cli(['rm', '-f', 'watcher'])).code, 0);
  });

  test('isolation: an instance on another network reaches neither service, by address or by name', async () => {
    assert.ok(ips.api && ips.vmapi, 'the services run');
    const probe = (target: string) => [
      'python3', '-c', [
        'import socket, sys',
        'try:',
        `    socket.create_connection(("${target}", 8000), timeout=3); print("reached")`,
        'except Exception as e:',
        '    print(type(e).__name__)',
      ].join('\n'),
    ];
    for (const [network, kind] of [['elsewhere', 'container'], ['bridge', 'container'], ['elsewhere', 'vm']] as const) {
      for (const target of [ips.api, ips.vmapi]) {
        const r = await cli(['run', '--rm', '--as', kind, '-m', '256m', '--network', network, '--dns', '127.0.0.1', 'debian:bookworm', ...probe(target)]);
        assert.equal(r.code, 0, r.stderr);
        assert.notEqual(r.stdout.trim(), 'reached', `${kind} on ${network} reached ${target}`);
      }
      const byName = await cli(['run', '--rm', '--network', network, '--dns', '127.0.0.1', 'debian:bookworm', 'getent', 'hosts', 'api']);
      assert.equal(byName.code, 2, `the name api is unknown on ${network}: ${byName.stdout}`);
    }
    // The same probe from the services' own network does reach them (the probe can succeed).
    const r = await cli(['run', '--rm', '--network', 'shop', 'debian:bookworm', ...probe(ips.api)]);
    assert.equal(r.stdout.trim(), 'reached');
  });
});
