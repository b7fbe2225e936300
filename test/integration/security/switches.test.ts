import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import type { SecurityProfile } from '../../../src/security/profile.js';
import { decodeCaps } from '../../../src/security/facts.js';
import { ALL_CAPS } from '../../../src/core/caps.js';

function missingHostCaps(): string[] {
  const bnd = /^CapBnd:\s*(\w+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  const have = decodeCaps(bnd);
  return ALL_CAPS.filter((c) => !have.includes(c));
}

/**
 * The hardening switches end to end: each flag given to `isola run` changes what
 * `isola inspect --security` measures on the running container, and bad input is refused with
 * one line, exit status 125, and nothing left behind.
 */
describe('hardening switches (container)', () => {
  let fx: Fixture;
  const names: string[] = [];

  before(async () => {
    fx = await makeFixture();
  });
  after(async () => {
    for (const n of names) await isola(fx.root, ['rm', '-f', n]);
    await fx.dispose();
  });

  async function profileOf(name: string, flags: string[]): Promise<SecurityProfile> {
    names.push(name);
    const r = await isola(fx.root, ['run', '-d', '--name', name, ...flags, 'base', 'sleep', '600']);
    assert.equal(r.code, 0, r.stderr);
    const p = await isola(fx.root, ['inspect', '--security', '--json', name]);
    assert.equal(p.code, 0, p.stderr);
    return (JSON.parse(p.stdout) as SecurityProfile[])[0] as SecurityProfile;
  }
  const status = (p: SecurityProfile, id: string) => p.checklist.find((c) => c.id === id)?.status;

  let base: SecurityProfile;
  test('defaults: Docker\'s capabilities, seccomp filter, no-new-privileges, own namespaces', async () => {
    base = await profileOf('sec-default', []);
    assert.equal(base.kernel.shared, true);
    assert.equal(base.workload.capabilities.count, 14);
    assert.equal(base.workload.seccomp.mode, 'filter');
    assert.ok((base.workload.seccomp.rules?.allowed ?? 0) > 300, 'the containers-common profile allows a few hundred syscalls by name');
    assert.equal(base.workload.noNewPrivileges, true);
    assert.equal(base.workload.readOnlyRoot, false);
    assert.equal(base.workload.privileged, false);
    for (const ns of ['mnt', 'pid', 'net', 'ipc', 'uts']) assert.ok(base.workload.namespaces.own.includes(ns), ns);
    assert.equal(status(base, 'capabilities'), 'pass');
    assert.equal(status(base, 'memory-limit'), 'fail');
    assert.equal(base.level.escapeDifficulty, 'Harder but possible');
  });

  test('--cap-add, --cap-drop, no-new-privileges=false, --read-only and limits show in the profile', async () => {
    const p = await profileOf('sec-mixed', ['--cap-add', 'NET_ADMIN', '--cap-drop', 'CHOWN', '--security-opt', 'no-new-privileges=false', '--read-only', '-m', '64m', '--cpus', '0.5', '--pids-limit', '50']);
    const caps = p.workload.capabilities.effective;
    assert.ok(caps.includes('CAP_NET_ADMIN') && !caps.includes('CAP_CHOWN'));
    assert.equal(p.workload.capabilities.count, base.workload.capabilities.count);
    assert.equal(status(p, 'capabilities'), 'fail');
    assert.equal(p.workload.noNewPrivileges, false);
    assert.equal(status(p, 'no-new-privileges'), 'fail');
    assert.equal(p.workload.readOnlyRoot, true);
    assert.equal(status(p, 'read-only-root'), 'pass');
    assert.equal(p.workload.limits.memoryBytes, 64 * 1048576);
    assert.equal(p.workload.limits.cpuQuota, '50000/100000');
    assert.equal(p.workload.limits.pids, 50);
    for (const id of ['memory-limit', 'cpu-limit', 'pids-limit']) assert.equal(status(p, id), 'pass', id);
    assert.match(p.level.escapeDifficulty, /weakened \(capabilities, no-new-privileges\)/);
  });

  test('--cap-drop ALL leaves no capability', async () => {
    const p = await profileOf('sec-nocaps', ['--cap-drop', 'ALL']);
    assert.equal(p.workload.capabilities.count, 0);
    assert.equal(p.workload.capabilities.hex, '0000000000000000');
  });

  test('seccomp=unconfined turns the filter off', async () => {
    const p = await profileOf('sec-unconfined', ['--security-opt', 'seccomp=unconfined']);
    assert.equal(p.workload.seccomp.mode, 'disabled');
    assert.equal(status(p, 'seccomp'), 'fail');
  });

  test('seccomp=PATH loads that profile', async () => {
    const file = path.join(fx.root, 'deny-mkdir.json');
    fs.writeFileSync(file, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }] }));
    const p = await profileOf('sec-custom', ['--security-opt', `seccomp=${file}`]);
    assert.equal(p.workload.seccomp.mode, 'filter');
    assert.deepEqual(p.workload.seccomp.rules && { d: p.workload.seccomp.rules.defaultAction, n: p.workload.seccomp.rules.named, r: p.workload.seccomp.rules.restricted }, { d: 'SCMP_ACT_ALLOW', n: 2, r: 2 });
    const r = await isola(fx.root, ['exec', 'sec-custom', 'mkdir', '/tmp/x']);
    assert.notEqual(r.code, 0, 'the profile really denies mkdir');
  });

  // --privileged grants every capability isola itself holds: on this host its bounding set lacks
  // some (CAP_SYS_RESOURCE), and no runtime can hand out more than its caller has.
  test('--privileged: every capability isola holds, no seccomp, and the level says so', async () => {
    const p = await profileOf('sec-priv', ['--privileged']);
    assert.equal(p.workload.privileged, true);
    assert.equal(p.workload.capabilities.count, ALL_CAPS.length - missingHostCaps().length);
    assert.equal(p.workload.seccomp.mode, 'disabled');
    assert.equal(status(p, 'privileged'), 'fail');
    assert.match(p.level.escapeDifficulty, /^Easy/);
  });

  describe('bad input: one line, exit status 125, nothing left behind', () => {
    const cases: { what: string; args: string[]; message: RegExp }[] = [
      { what: 'a seccomp profile that does not parse', args: ['--security-opt', 'seccomp=BROKEN'], message: /seccomp profile ".*" is not valid JSON/ },
      { what: 'an unknown capability', args: ['--cap-add', 'NOT_A_CAP'], message: /unknown capability "NOT_A_CAP"/ },
      { what: '--runtime naming a runtime that is not installed', args: ['--runtime', 'runsc'], message: /runtime runsc cannot run containers here: runsc is not installed/ },
      { what: '--runtime naming no runtime at all', args: ['--runtime', 'nope'], message: /unknown runtime "nope"/ },
      { what: '--privileged with --as vm', args: ['--privileged', '--as', 'vm'], message: /--privileged means nothing for --as vm/ },
      { what: '--runtime other than runc or crun with --as hybrid', args: ['--as', 'hybrid', '--runtime', 'runsc'], message: /--runtime runsc is not available inside the hybrid guest/ },
    ];
    for (const c of cases) {
      test(c.what, async () => {
        const instancesBefore = fs.readdirSync(fx.paths.instances).sort();
        const broken = path.join(fx.root, 'broken.json');
        fs.writeFileSync(broken, '{ "defaultAction": ');
        const args = c.args.map((a) => a.replace('BROKEN', broken));
        const r = await isola(fx.root, ['run', '--rm', '--name', 'bad-input', ...args, 'base', 'echo', 'hi']);
        assert.equal(r.code, 125, r.stderr);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
        assert.match(r.stderr, c.message);
        const ps = await isola(fx.root, ['ps', '--all']);
        assert.doesNotMatch(ps.stdout, /bad-input/, 'no instance recorded');
        assert.deepEqual(fs.readdirSync(fx.paths.instances).sort(), instancesBefore, 'no instance folder');
        const live = (JSON.parse((await isola(fx.root, ['ps', '-a', '--json'])).stdout) as { id: string }[]).map((x) => x.id);
        assert.deepEqual(hostLeftovers(fx, live), [], 'nothing but what the instances still listed hold');
      });
    }
  });
});
