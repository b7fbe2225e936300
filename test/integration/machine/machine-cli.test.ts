import { describe, test, before, after } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { hostLeftovers, isola, isolaOk, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { assertEngineError } from '../../helpers/engine-error.js';

/**
 * `isola machine` and `run --machine` end to end through the real CLI (TCG here): the picture of
 * the common comparison (the README's commands), a "prod" machine and a "dev" machine with two
 * containers each; what
 * they share and what they do not; every bad input in one line with nothing made; a machine whose
 * QEMU is killed settled by the next command; rm -f leaving nothing on the host.
 */
const T = { timeout: 240_000 };

const qemuOf = (id: string): number[] => fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
  try {
    return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`isola-${id}`);
  } catch {
    return false;
  }
}).map(Number);

describe('isola machine (CLI, real QEMU)', () => {
  let fx: Fixture;
  const cli = (args: string[]) => isola(fx.root, args, { timeoutMs: 200_000 });
  const ok = (args: string[]) => isolaOk(fx.root, args, { timeoutMs: 200_000 });
  const refused = async (args: string[], message: RegExp) => assertEngineError(await cli(args), message);
  const ipOf = async (name: string) => (JSON.parse(await ok(['ps', '-a', '--json'])) as { name: string; ip: string | null }[]).find((x) => x.name === name)?.ip ?? '';
  const inspect = async (name: string) => (JSON.parse(await ok(['machine', 'inspect', '--json', name])) as { id: string; ip: string; state: string; containers: { name: string; state: string }[] }[])[0];

  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    // Every instance first (plain ones too, such as web): a failed run would otherwise leave them
    // running after the fixture removed their data root, holding isola0 addresses.
    const ids = (await cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    if (ids.length) await cli(['rm', '-f', ...ids]);
    await cli(['machine', 'rm', '-f', 'prod']);
    await cli(['machine', 'rm', '-f', 'dev']);
    await fx?.dispose();
  });

  test('prod and dev machines, several containers each: own namespaces, one kernel per machine, logs, exec, exit status, ps', T, async () => {
    await ok(['machine', 'create', 'prod', '-m', '512m', '--cpus', '1']);
    await ok(['machine', 'create', 'dev', '-m', '256m', '--cpus', '1', '--disk', '512m']);
    await refused(['machine', 'create', 'dev'], /machine "dev" already exists/);
    await ok(['run', '-d', '--machine', 'prod', '--name', 'db', 'base', 'sh', '-c', 'echo db up; sleep infinity']);
    await ok(['run', '-d', '--machine', 'prod', '--name', 'api', '-p', '18089:8000', 'base', 'httpd', '-f', '-p', '8000', '-h', '/etc']);
    await ok(['run', '-d', '--machine', 'dev', '--name', 'debug', 'base', 'sleep', 'infinity']);
    await ok(['run', '-d', '--machine', 'dev', '--name', 'shell', 'base', 'sh', '-c', 'echo dev up; sleep infinity']);
    const ps = await ok(['ps']);
    assert.match(ps, /hybrid@prod.*\bdb\b/);
    assert.match(ps, /hybrid@prod.*\bapi\b/);
    assert.match(ps, /hybrid@dev.*\bdebug\b/);
    assert.match(ps, /hybrid@dev.*\bshell\b/);
    assert.equal(await ok(['logs', 'db']), 'db up');
    assert.equal(await ok(['logs', 'shell']), 'dev up');
    // Own pid namespace: each sees only its own processes (db, debug and shell each run one sleep);
    // one kernel per machine, shared by its containers, another per machine.
    for (const n of ['db', 'debug', 'shell']) assert.equal(await ok(['exec', n, 'sh', '-c', 'ps -o comm | grep -c sleep']), '1', `${n} sees only its own sleep`);
    const boot = async (n: string) => ok(['exec', n, 'cat', '/proc/sys/kernel/random/boot_id']);
    assert.equal(await boot('db'), await boot('api'), 'containers of one machine share its kernel');
    assert.equal(await boot('debug'), await boot('shell'), 'so do dev\'s');
    assert.notEqual(await boot('db'), await boot('debug'), 'another machine is another kernel');
    assert.notEqual(await boot('db'), fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(), 'not the host\'s');
    assert.equal(await ok(['exec', 'db', 'sh', '-c', 'exit 4']).catch(() => 'x'), 'x');
    // Two commands into one machine at once: each takes its own agent port of the machine's VM
    // (QEMU serves a port to one client at a time), so the second neither fails with "cannot
    // reach the VM's agent" nor waits for the first: it ends while the first still sleeps.
    const ended: string[] = [];
    const both = await Promise.all([cli(['exec', 'db', 'sh', '-c', 'sleep 8; echo first']).then((x) => (ended.push('first'), x)), (async () => {
      await sleep(1000);
      return cli(['exec', 'api', 'echo', 'second']).then((x) => (ended.push('second'), x));
    })()]);
    assert.deepEqual(both.map((x) => [x.code, x.stdout.trim(), x.stderr.trim()]), [[0, 'first', ''], [0, 'second', '']]);
    assert.deepEqual(ended, ['second', 'first'], 'the second command ran beside the first, not after it');
    const r = await cli(['run', '--rm', '--machine', 'prod', 'base', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([r.code, r.stdout.trim(), r.stderr.trim()], [3, 'out', 'err']);
    const prod = await inspect('prod');
    const dev = await inspect('dev');
    assert.equal(prod?.state, 'running');
    assert.deepEqual(prod?.containers.map((c) => c.name).sort(), ['api', 'db']);
    assert.deepEqual(dev?.containers.map((c) => c.name).sort(), ['debug', 'shell']);
    const ls = JSON.parse(await ok(['machine', 'ls', '--json'])) as { name: string; state: string; containers: unknown[] }[];
    assert.deepEqual(ls.map((m) => [m.name, m.state, m.containers.length]).sort(), [['dev', 'running', 2], ['prod', 'running', 2]]);
    // A container's own address is reachable from the host and plain instances; dev's container
    // does not reach it (machines are apart on isola0); the published port is reachable.
    const apiIp = await ipOf('api');
    assert.notEqual(apiIp, prod?.ip, 'its own address, not the machine\'s');
    const page = await ok(['run', '--rm', 'base', 'wget', '-q', '-O', '-', `http://${apiIp}:8000/hostname`]);
    assert.ok(page.length > 0, 'a plain container reaches the container in the machine');
    // From dev's container: a plain instance answers (the probe works from there), prod does not.
    const get = (ip: string) => cli(['exec', 'debug', 'sh', '-c', `printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip} 8000`]);
    await ok(['run', '-d', '--name', 'web', 'base', 'httpd', '-f', '-p', '8000', '-h', '/etc']);
    const webIp = (JSON.parse(await ok(['ps', '--json'])) as { name: string; ip: string }[]).find((x) => x.name === 'web')?.ip ?? '';
    let plain = await get(webIp);
    for (let i = 0; i < 20 && !/HTTP\/1/.test(plain.stdout); i++) plain = await get(webIp);
    assert.match(plain.stdout, /HTTP\/1\.[01] 200/, `dev's container reaches a plain instance: ${plain.stderr}`);
    const direct = await get(apiIp);
    assert.doesNotMatch(direct.stdout, /HTTP\/1/, 'dev\'s container does not reach the address of prod\'s container');
    await ok(['rm', '-f', 'web']);
    // The published port, from the host.
    const res = await fetch('http://127.0.0.1:18089/hostname');
    assert.equal(res.status, 200);
    assert.ok(dev?.ip && dev.ip !== prod?.ip);
    const sec = await ok(['inspect', '--security', 'api']);
    assert.match(sec, /Machine prod .*other containers in it: db/);
  });

  test('each container its own network namespace and address: two listen on 8080, reached from the host at their addresses; -p; --network none', T, async () => {
    const serve = (who: string) => ['sh', '-c', `mkdir /w && echo ${who} > /w/who && exec httpd -f -p 8080 -h /w`];
    await ok(['run', '-d', '--machine', 'prod', '--name', 'w1', 'base', ...serve('one')]);
    await ok(['run', '-d', '--machine', 'prod', '--name', 'w2', '-p', '18091:8080', 'base', ...serve('two')]);
    try {
      const [ip1, ip2, prodIp] = [await ipOf('w1'), await ipOf('w2'), (await inspect('prod'))?.ip];
      assert.ok(ip1 && ip2 && new Set([ip1, ip2, prodIp]).size === 3, `three addresses: ${ip1} ${ip2} ${prodIp}`);
      const doc = (JSON.parse(await ok(['inspect', 'w1'])) as { NetworkSettings: { IPAddress: string }; Machine: { IP: string } }[])[0];
      assert.deepEqual([doc?.NetworkSettings.IPAddress, doc?.Machine.IP], [ip1, prodIp], 'inspect: its address, and its machine\'s');
      const page = async (url: string) => {
        for (let i = 0; ; i++) {
          const r = await fetch(url, { signal: AbortSignal.timeout(3000) }).then(async (x) => `${x.status} ${(await x.text()).trim()}`, () => null);
          if (r || i >= 20) return r;
          await sleep(250);
        }
      };
      // The same port in both, each reached from the host at its own address.
      assert.equal(await page(`http://${ip1}:8080/who`), '200 one', 'w1 answers at its address');
      assert.equal(await page(`http://${ip2}:8080/who`), '200 two', 'w2 answers at its own');
      assert.equal(await page(`http://127.0.0.1:18091/who`), '200 two', '-p publishes to the container\'s address');
      // The two containers of one machine reach each other; its own namespace holds eth0 with its address.
      assert.match(await ok(['exec', 'w1', 'sh', '-c', `printf 'GET /who HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${ip2} 8080`]), /^two$/m);
      // busybox wget inside a placed container (Debian's busybox 1.35 crashes on wget -T anywhere: docs/MACHINES.md).
      assert.equal(await ok(['exec', 'w1', 'wget', '-q', '-O', '-', `http://${ip2}:8080/who`]), 'two');
      assert.match(await ok(['exec', 'w1', 'ip', '-o', 'addr', 'show', 'eth0']), new RegExp(`inet ${ip1.replace(/\./g, '\\.')}/`));
      // Its own /etc files: its name and address, --hostname, --add-host, --dns* (not the machine's).
      const etc = await ok(['run', '--rm', '--machine', 'prod', '--name', 'named', '--hostname', 'hn', '--add-host', 'added:198.18.0.9', '--dns', '10.77.0.1', '--dns-search', 'm.test', '--dns-option', 'ndots:2',
        'base', 'sh', '-c', 'hostname; cat /etc/hostname; grep -v "^#" /etc/hosts /etc/resolv.conf; ip -o -4 addr show eth0']);
      const own = /inet (\S+)\//.exec(etc)?.[1] ?? '?';
      for (const line of ['hn', `/etc/hosts:${own}\thn named`, '/etc/hosts:198.18.0.9\tadded', '/etc/resolv.conf:nameserver 10.77.0.1', '/etc/resolv.conf:search m.test', '/etc/resolv.conf:options ndots:2']) {
        assert.ok(etc.split('\n').includes(line), `${JSON.stringify(line)} in ${etc}`);
      }
      assert.equal(await ok(['run', '--rm', '--machine', 'prod', '--network', 'none', 'base', 'sh', '-c', 'ls /sys/class/net | grep -v sit']), 'lo');
      await refused(['run', '--machine', 'prod', '--network', 'nope', 'base', 'true'], /no such network: nope/);
    } finally {
      await ok(['rm', '-f', 'w1', 'w2']);
    }
  });

  test('volumes: -v HOST:PATH writes reach the host, :ro refuses writes, a named volume outlives its container; nothing stays mounted', T, async () => {
    const host = fs.mkdtempSync(path.join(fx.root, 'hostdir-'));
    fs.writeFileSync(path.join(host, 'in.txt'), 'from-host\n');
    const mounted = () => fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(path.join(fx.root, 'machines'))).map((l) => l.split(' ')[4]);
    const before = mounted();
    assert.equal(await ok(['run', '--rm', '--machine', 'prod', '-v', `${host}:/data`, 'base', 'sh', '-c', 'cat /data/in.txt; echo inside > /data/out.txt; chown 12:34 /data/out.txt']), 'from-host');
    const st = fs.statSync(path.join(host, 'out.txt'));
    assert.deepEqual([fs.readFileSync(path.join(host, 'out.txt'), 'utf8'), st.uid, st.gid], ['inside\n', 12, 34]);
    assert.equal(await ok(['run', '--rm', '--machine', 'prod', '-v', `${host}:/data:ro`, 'base', 'sh', '-c', 'touch /data/new 2>/dev/null && echo wrote || echo refused']), 'refused');
    assert.deepEqual(fs.readdirSync(host).sort(), ['in.txt', 'out.txt']);
    await ok(['run', '--rm', '--machine', 'prod', '-v', 'mvol:/v', 'base', 'sh', '-c', 'echo gen1 > /v/state']);
    assert.equal(await ok(['run', '--rm', '--machine', 'prod', '-v', 'mvol:/v', 'base', 'cat', '/v/state']), 'gen1');
    assert.deepEqual(mounted(), before, 'the binds went with the containers');
    await ok(['volume', 'rm', 'mvol']);
  });

  test('bad input: one line, exit 125, nothing made', T, async () => {
    const before = (await ok(['ps', '-a', '-q'])).split('\n').length;
    await refused(['run', '--machine', 'nope', 'base', 'true'], /no such machine: nope/);
    await refused(['run', '--machine', 'prod', '-m', '1g', 'base', 'true'], /-m 1\.00GiB is more than machine prod has/);
    await refused(['run', '--machine', 'prod', '--as', 'vm', 'base', 'true'], /hybrid kind, not --as vm/);
    await refused(['snapshot', 'create', 'db', 'one'], /snapshots are not available for db, a container in machine prod/);
    await refused(['machine', 'rm', 'prod'], /machine prod still has 2 container\(s\)/);
    await refused(['machine', 'create', 'tiny', '-m', '64m'], /too small for a machine/);
    await refused(['machine', 'inspect', 'nope'], /no such machine: nope/);
    assert.equal((await ok(['ps', '-a', '-q'])).split('\n').length, before);
    await ok(['machine', 'stop', '-t', '2', 'dev']); // its two sleeps ignore TERM (pid 1): 2 s each, then KILL
    await refused(['run', '--machine', 'dev', 'base', 'true'], /machine dev is not running/);
    const all = await ok(['ps', '-a']);
    assert.match(all, /Exited.*\bdebug\b/);
    assert.match(all, /Exited.*\bshell\b/);
  });

  test('compose: x-isola-machine places a service in prod beside its containers; a stopped machine is refused with nothing made', T, async () => {
    const dir = path.join(fx.root, 'mstack');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'compose.yaml');
    fs.writeFileSync(file, [
      'services:',
      '  cache:',
      '    image: base',
      '    x-isola-machine: prod',
      '    command: httpd -f -p 8001 -h /etc',
      '    ports: ["18090:8001"]',
      '  front:',
      '    image: base',
      '    command: sleep 600',
      '',
    ].join('\n'));
    const compose = (...args: string[]) => ['compose', '-f', file, '-p', 'mstack', ...args];
    await ok(compose('up', '-d'));
    assert.deepEqual((await inspect('prod'))?.containers.map((c) => c.name).sort(), ['api', 'db', 'mstack-cache-1'], 'placed beside prod\'s own containers');
    assert.equal(await ok(compose('exec', 'cache', 'cat', '/proc/sys/kernel/random/boot_id')), await ok(['exec', 'db', 'cat', '/proc/sys/kernel/random/boot_id']), 'prod\'s kernel');
    assert.notEqual(await ok(compose('exec', 'front', 'cat', '/proc/sys/kernel/random/boot_id')), await ok(['exec', 'db', 'cat', '/proc/sys/kernel/random/boot_id']), 'front is a plain container');
    let res = await fetch('http://127.0.0.1:18090/hostname').catch(() => null);
    for (let i = 0; i < 20 && res?.status !== 200; i++) res = await new Promise((r) => setTimeout(r, 250)).then(() => fetch('http://127.0.0.1:18090/hostname').catch(() => null));
    assert.equal(res?.status, 200, 'its published port, through the machine');
    // On the stack's network as any service: front (a plain container) reaches it by its service name.
    let page = '';
    for (let i = 0; i < 20 && page === ''; i++) page = (await cli(compose('exec', 'front', 'timeout', '3', 'wget', '-q', '-O', '-', 'http://cache:8001/hostname'))).stdout.trim();
    assert.equal(page, (await ok(compose('exec', 'cache', 'cat', '/etc/hostname'))), 'front reaches cache by name on mstack_default');
    // dev is stopped (the test before): a service placed there is refused, and nothing is made.
    const other = path.join(dir, 'dev.yaml');
    fs.writeFileSync(other, 'services:\n  tool:\n    image: base\n    x-isola-machine: dev\n    command: sleep 600\n');
    const before = await ok(['ps', '-a', '-q']);
    await refused(['compose', '-f', other, '-p', 'dstack', 'up', '-d'], /machine dev is not running/);
    assert.equal(await ok(['ps', '-a', '-q']), before);
    await ok(compose('down'));
    assert.deepEqual((await inspect('prod'))?.containers.map((c) => c.name).sort(), ['api', 'db']);
  });

  test('a machine whose QEMU is killed is settled by the next command; rm -f leaves nothing', T, async () => {
    const prod = await inspect('prod');
    for (const pid of qemuOf(prod?.id ?? '')) process.kill(pid, 'SIGKILL');
    await sleep(500);
    assert.equal((await inspect('prod'))?.state, 'stopped');
    assert.match(await ok(['ps', '-a']), /Exited \(137\).*\bdb\b/);
    await ok(['system', 'prune']);
    await ok(['machine', 'rm', '-f', 'prod', 'dev']);
    assert.equal(await ok(['machine', 'ls', '-q']), '');
    assert.equal(await ok(['ps', '-a', '-q']), '');
    assert.deepEqual(hostLeftovers(fx), []);
    assert.deepEqual(fs.readdirSync(path.join(fx.root, 'machines')), []);
  });
});
