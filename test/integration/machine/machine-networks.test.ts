import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { hostLeftovers, isola, isolaOk, makeFixture, type Fixture } from '../../helpers/fixture.js';

/**
 * User networks for containers in machines, end to end through the real CLI (TCG here): a
 * plain container and containers of two machines on one user network find each other by name
 * and reach each other; instances not on it (a plain one on another network, a container of the
 * same machine on the default network, one of the other machine) do not; `network connect` of
 * a running container in a machine and `disconnect`; machine stop, rm -f, network rm and system
 * prune leave no route, proxy ARP entry or nftables element behind.
 */
const T = { timeout: 300_000 };

describe('user networks for containers in machines (CLI, real QEMU)', () => {
  let fx: Fixture;
  const cli = (args: string[]) => isola(fx.root, args, { timeoutMs: 200_000 });
  const ok = (args: string[]) => isolaOk(fx.root, args, { timeoutMs: 200_000 });
  // A GET from inside an instance: the page, or null when nothing answers within 3 s.
  const get = async (from: string, url: string): Promise<string | null> => {
    const r = await cli(['exec', from, 'timeout', '3', 'wget', '-q', '-O', '-', url]);
    return r.code === 0 ? r.stdout.trim() : null;
  };
  // Until it answers (a name or a route may take a moment to appear), at most 20 tries.
  const reaches = async (from: string, url: string): Promise<string | null> => {
    for (let i = 0; i < 20; i++) {
      const page = await get(from, url);
      if (page !== null) return page;
    }
    return null;
  };
  const serve = (who: string) => ['sh', '-c', `mkdir -p /w && echo ${who} > /w/who && exec httpd -f -p 8000 -h /w`];
  const ipOn = async (name: string, net: string): Promise<string> => {
    const doc = (JSON.parse(await ok(['network', 'inspect', net])) as { Instances: Record<string, { Name: string; IPv4Address: string }> }[])[0];
    return Object.values(doc?.Instances ?? {}).find((x) => x.Name === name)?.IPv4Address ?? '';
  };
  const placedState = () => {
    const routes = execFileSync('ip', ['-4', 'route', 'show', 'proto', '77'], { encoding: 'utf8' }).trim();
    return routes;
  };

  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    await cli(['rm', '-f', 'web', 'api', 'loner', 'peer2', 'outsider', 'far']);
    await cli(['machine', 'rm', '-f', 'netm', 'netm2']);
    await cli(['network', 'rm', 'appnet', 'othernet']);
    await fx?.dispose();
  });

  test('a plain container and containers of two machines on appnet reach each other by name; no instance off appnet reaches them', T, async () => {
    await ok(['network', 'create', 'appnet']);
    await ok(['network', 'create', 'othernet']);
    await ok(['machine', 'create', 'netm', '-m', '384m', '--cpus', '1']);
    await ok(['machine', 'create', 'netm2', '-m', '256m', '--cpus', '1', '--disk', '512m']);
    await ok(['run', '-d', '--network', 'appnet', '--name', 'web', 'base', ...serve('web')]);
    await ok(['run', '-d', '--machine', 'netm', '--network', 'appnet', '--name', 'api', 'base', ...serve('api')]);
    await ok(['run', '-d', '--machine', 'netm2', '--network', 'appnet', '--name', 'peer2', 'base', ...serve('peer2')]);
    await ok(['run', '-d', '--machine', 'netm', '--name', 'loner', 'base', ...serve('loner')]);
    await ok(['run', '-d', '--machine', 'netm2', '--name', 'far', 'base', ...serve('far')]);
    await ok(['run', '-d', '--network', 'othernet', '--name', 'outsider', 'base', ...serve('outsider')]);
    const apiIp = await ipOn('api', 'appnet');
    const webIp = await ipOn('web', 'appnet');
    assert.match(apiIp, /^10\.7[89]\./, `api has an address on appnet: ${apiIp}`);
    // Its own address on appnet as eth0, the network's gateway its default route; its peers by name.
    assert.match(await ok(['exec', 'api', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${apiIp.replace(/\./g, '\\.')}/24`));
    assert.match(await ok(['exec', 'api', 'cat', '/etc/hosts']), new RegExp(`^${webIp.replace(/\./g, '\\.')}\\tweb$`, 'm'));
    // Each way, by name: the machine's container and the plain one, and a container of the other machine.
    assert.equal(await reaches('api', 'http://web:8000/who'), 'web', 'api (in netm) reaches web (plain) by name');
    assert.equal(await reaches('web', 'http://api:8000/who'), 'api', 'web reaches api by name');
    assert.equal(await reaches('peer2', 'http://api:8000/who'), 'api', 'peer2 (in netm2) reaches api (in netm) by name');
    assert.equal(await reaches('api', 'http://peer2:8000/who'), 'peer2', 'and back');
    // Isolation: not from another network, not from the same machine's container on the default
    // network, not from the other machine's container on the default network.
    assert.equal(await get('outsider', `http://${apiIp}:8000/who`), null, 'an instance of othernet does not reach api');
    assert.equal(await get('loner', `http://${apiIp}:8000/who`), null, 'a container of the same machine off appnet does not reach api');
    assert.equal(await get('far', `http://${apiIp}:8000/who`), null, 'a container of another machine off appnet does not reach api');
    const outsiderIp = await ipOn('outsider', 'othernet');
    assert.equal(await get('api', `http://${outsiderIp}:8000/who`), null, 'api does not reach othernet');
    assert.equal(await get('api', `http://${await ipOn('loner', 'bridge')}:8000/who`), null, 'nor the default network, its machine\'s container on it included');
    // What the isolation stops is the network, not the instances: from the host, each answers.
    for (const [name, ip] of [['outsider', outsiderIp], ['api', apiIp]] as const) {
      assert.equal(execFileSync('wget', ['-q', '-T', '3', '-O', '-', `http://${ip}:8000/who`], { encoding: 'utf8' }).trim(), name);
    }
    // The host routes api's address to netm, and only while it runs.
    assert.match(placedState(), new RegExp(`^${apiIp.replace(/\./g, '\\.')} via `, 'm'));
  });

  test('network connect gives a running container in a machine eth1 and its peers\' names; disconnect takes both away', T, async () => {
    const apiIp = await ipOn('api', 'appnet');
    await ok(['network', 'connect', 'appnet', 'loner']);
    const lonerIp = await ipOn('loner', 'appnet');
    assert.match(await ok(['exec', 'loner', 'ip', '-o', '-4', 'addr', 'show', 'eth1']), new RegExp(`inet ${lonerIp.replace(/\./g, '\\.')}/24`));
    assert.match(await ok(['exec', 'loner', 'ip', 'route']), /^default via 10\.77\.0\.1 dev eth0/m, 'the default route stays on eth0');
    assert.equal(await reaches('loner', 'http://api:8000/who'), 'api', 'loner now reaches api by name');
    assert.equal(await reaches('web', 'http://loner:8000/who'), 'loner', 'web (plain) reaches loner by name');
    await ok(['network', 'disconnect', 'appnet', 'loner']);
    assert.equal(await get('loner', `http://${apiIp}:8000/who`), null, 'after disconnect, loner no longer reaches api');
    assert.doesNotMatch(await ok(['exec', 'loner', 'cat', '/etc/hosts']), /\tapi$/m, 'nor knows its name');
    assert.doesNotMatch(placedState(), new RegExp(`^${lonerIp.replace(/\./g, '\\.')} `, 'm'), 'its route is gone');
  });

  test('machine stop, rm -f, network rm and system prune leave no route, proxy ARP entry or nftables element', T, async () => {
    const peer2Ip = await ipOn('peer2', 'appnet');
    await ok(['machine', 'stop', 'netm2']);
    assert.doesNotMatch(placedState(), new RegExp(`^${peer2Ip.replace(/\./g, '\\.')} `, 'm'), 'a stopped machine\'s containers are no longer routed');
    await ok(['machine', 'start', 'netm2']);
    await ok(['start', 'peer2']);
    assert.equal(await reaches('api', 'http://peer2:8000/who'), 'peer2', 'routed again after its start');
    await ok(['rm', '-f', 'web', 'api', 'loner', 'outsider', 'far']);
    await ok(['machine', 'stop', 'netm2']);
    await ok(['machine', 'rm', '-f', 'netm', 'netm2']);
    await ok(['network', 'rm', 'appnet', 'othernet']);
    await ok(['system', 'prune']);
    assert.equal(placedState(), '');
    assert.deepEqual(hostLeftovers(fx), []);
  });
});
