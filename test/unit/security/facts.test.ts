import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCaps, parseFacts, parseMountinfo } from '../../../src/security/facts.js';
import { sensitiveMounts, sharedSensitive, workloadFacts } from '../../../src/security/workload.js';
import { checklist } from '../../../src/security/checklist.js';
import { isolationLevel } from '../../../src/security/level.js';
import { vmmConfinement } from '../../../src/security/gather.js';
import { DEFAULT_CAPS } from '../../../src/core/caps.js';

/** The fact script's output for a runc container with Docker's defaults (trimmed from a real run). */
const CONTAINER = `== uname ==
6.18.44
== boot_id ==
b5ec24cb-1111-2222-3333-444455556666
== status ==
Name:	sleep
Uid:	0	0	0	0
CapEff:	00000000a80425fb
NoNewPrivs:	1
Seccomp:	2
Seccomp_filters:	1
== uid_map ==
         0          0 4294967295
== attr ==
cat: read error: Invalid argument
== lsm ==
== rootns_pid ==
1
== ns ==
cgroup cgroup:[4026532300]
mnt mnt:[4026532301]
net net:[4026532302]
pid pid:[4026532303]
user user:[4026531837]
== rootcaps ==
CapBnd:	000001ffffffffff
== rootns ==
cgroup cgroup:[4026531835]
mnt mnt:[4026531841]
net net:[4026531840]
pid pid:[4026531836]
user user:[4026531837]
== mountinfo ==
500 400 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/x
501 500 0:51 / /proc rw,nosuid - proc proc rw
502 500 8:1 /srv/inst/etc/hosts /etc/hosts ro,relatime - ext4 /dev/sda1 rw
== cgroup ==
4:memory:/isola/abc
== limits ==
memory 67108864
pids max
cpu -1 100000
== meminfo ==
MemTotal:       24686092 kB
== cpus ==
2
== end ==
`;

test('decodes CapEff into capability names', () => {
  assert.deepEqual([...decodeCaps('00000000a80425fb')].sort(), [...DEFAULT_CAPS].sort());
  assert.equal(decodeCaps('000001ffffffffff').length, 41);
  assert.deepEqual(decodeCaps('0000000000000000'), []);
});

test('parses the fact script output', () => {
  const f = parseFacts(CONTAINER);
  assert.equal(f.kernel, '6.18.44');
  assert.equal(f.seccompMode, 2);
  assert.equal(f.noNewPrivs, true);
  assert.equal(f.lsmLabel, null, 'EINVAL from attr/current means no LSM');
  assert.equal(f.limits.memoryBytes, 64 * 1048576);
  assert.equal(f.limits.pids, null);
  assert.equal(f.limits.cpuQuota, null, 'a quota of -1 is no quota');
  assert.equal(f.rootNamespacesOf, 'pid 1');
  assert.throws(() => parseFacts('== uname ==\n6.1\n'), /did not finish/);
});

test('compares namespaces with pid 1 of the same kernel', () => {
  const w = workloadFacts(parseFacts(CONTAINER), null, 'the host');
  assert.deepEqual(w.namespaces.own, ['mnt', 'pid', 'net', 'cgroup']);
  assert.deepEqual(w.namespaces.sharedWithKernelInit, ['user']);
  assert.equal(w.userNamespace.remapped, false);
  assert.equal(w.readOnlyRoot, false);
  assert.equal(w.privileged, false);
});

test('finds sensitive host paths and sockets among the mounts', () => {
  const m = parseMountinfo([
    '1 0 8:1 / / rw - ext4 /dev/vda rw',
    '2 1 8:1 /var/run/docker.sock /var/run/docker.sock rw - ext4 /dev/sda1 rw',
    '3 1 8:1 /etc /host-etc ro - ext4 /dev/sda1 rw',
    '4 1 0:5 / /proc rw - proc proc rw',
  ].join('\n'));
  assert.deepEqual(sensitiveMounts(m), ['/var/run/docker.sock on /var/run/docker.sock (ext4)', '/etc on /host-etc (ext4)']);
  // In a guest a virtiofs share's root is "/" whatever host folder it is: judged from the spec instead.
  assert.deepEqual(sensitiveMounts(parseMountinfo('5 1 0:40 / /data rw - virtiofs isola0 rw')), []);
  assert.deepEqual(sharedSensitive([
    { type: 'bind', source: '/etc', target: '/host-etc' },
    { type: 'volume', source: '/var/lib/isola/volumes/v/_data', target: '/v' },
    { type: 'tmpfs', target: '/t' },
  ]), ['/etc on /host-etc (shared folder)']);
});

test('the checklist and level follow the facts', () => {
  const w = workloadFacts(parseFacts(CONTAINER), null, 'the host');
  const items = checklist({ w, kernelShared: true, kernel: null });
  const by = (id: string) => items.find((i) => i.id === id)?.status;
  assert.equal(by('capabilities'), 'pass');
  assert.equal(by('privileged'), 'pass');
  assert.equal(by('seccomp'), 'pass');
  assert.equal(by('memory-limit'), 'pass');
  assert.equal(by('pids-limit'), 'fail');
  assert.equal(by('read-only-root'), 'fail');
  assert.equal(isolationLevel(w, true, items, 'qemu').escapeDifficulty, 'Harder but possible');

  const priv = parseFacts(CONTAINER.replace('00000000a80425fb', '000001ffffffffff').replace('Seccomp:\t2', 'Seccomp:\t0'));
  const pw = workloadFacts(priv, null, 'the host');
  const pitems = checklist({ w: pw, kernelShared: true, kernel: null });
  assert.equal(pw.privileged, true);
  assert.equal(pitems.find((i) => i.id === 'privileged')?.status, 'fail');
  assert.match(isolationLevel(pw, true, pitems, 'qemu').escapeDifficulty, /^Easy/);

  // The same facts on a kernel of its own, with no namespaces: a plain VM.
  const vm = parseFacts(CONTAINER.replace(/== ns ==[\s\S]*?== rootns ==/, '== ns ==\npid pid:[1]\n== rootns ==').replace(/== rootns ==\n[\s\S]*?== mountinfo/, '== rootns ==\npid pid:[1]\n== mountinfo'));
  const vw = workloadFacts(vm, null, 'the guest');
  const vitems = checklist({ w: vw, kernelShared: false, kernel: '6.1.0' });
  assert.equal(vitems.find((i) => i.id === 'capabilities')?.status, 'n/a');
  assert.equal(vitems.find((i) => i.id === 'host-namespaces')?.status, 'pass');
  assert.match(vitems.find((i) => i.id === 'host-mounts')?.reason ?? '', /the host's files are not visible/);
  const shared = checklist({ w: vw, kernelShared: false, kernel: '6.1.0', sharedFolders: 2 }).find((i) => i.id === 'host-mounts');
  assert.equal(shared?.status, 'pass');
  assert.match(shared?.reason ?? '', /2 shared host folder\(s\) \(virtiofs\), none of them sensitive/, 'a VM with shares is not said to see no host file');
  const lvl = isolationLevel(vw, false, vitems, 'qemu');
  assert.equal(lvl.kernel, 'Separate');
  assert.equal(lvl.escapeDifficulty, 'Very Hard');
});

test('a separate kernel behind a root VMM is not rated like one behind a jailed VMM', () => {
  const facts = parseFacts(CONTAINER);
  const w = workloadFacts(facts, null, 'the guest');
  const items = checklist({ w, kernelShared: false, kernel: '6.1.0' });
  const rootVmm = vmmConfinement({ ...facts, uid: 0, capEff: ['CAP_SYS_ADMIN'], seccompMode: 0, noNewPrivs: false }, []);
  assert.equal(rootVmm.confined, false);
  assert.match(rootVmm.summary, /runs as root, 1 capabilities, no seccomp filter, may gain privileges, the host's mnt namespace, the host's net namespace/);
  const unconfined = isolationLevel(w, false, items, 'qemu', rootVmm);
  assert.match(unconfined.escapeDifficulty, /^Hard \(.*the VMM runs unconfined/);
  const jailed = vmmConfinement({ ...facts, uid: 2_100_000_001, capEff: [], seccompMode: 2, noNewPrivs: true }, ['mnt', 'net', 'ipc']);
  assert.equal(jailed.confined, true);
  const confined = isolationLevel(w, false, items, 'qemu', jailed);
  assert.match(confined.escapeDifficulty, /^Very Hard \(.*then out of a jailed VMM \(uid 2100000001/);
  assert.ok(confined.layers.some((l) => l.startsWith('VMM jail')));
});
