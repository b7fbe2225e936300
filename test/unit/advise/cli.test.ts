import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareFixture, ROOT } from './fixtures.js';

const EXAMPLE = join(ROOT, 'examples', 'workloads.yaml');
const dir = mkdtempSync(join(tmpdir(), 'isola-advise-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** Runs the real CLI with stdin a pipe (not a terminal). */
function isola(...args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'isola.js'), ...args], { cwd: ROOT, encoding: 'utf8', input: '' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 125, one line on stderr naming the problem, nothing on stdout. */
function failsWith(r: ReturnType<typeof isola>, re: RegExp) {
  assert.equal(r.code, 125, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^isola: /);
  assert.match(r.stderr, re);
}

test('advise and plan have --help', () => {
  const advise = isola('advise', '--help');
  assert.equal(advise.code, 0);
  assert.match(advise.stdout, /--measured <result.json>/);
  const plan = isola('plan', '--help');
  assert.equal(plan.code, 0);
  assert.match(plan.stdout, /--host <memory\/cores>/);
  assert.match(plan.stdout, /--overcommit-mem <ratio>/);
});

test('isola advise FILE prints the advice, --json the same as data', () => {
  const text = isola('advise', EXAMPLE);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^payments-api: hybrid: containers inside per-tenant or per-compliance-zone VMs$/m);
  assert.match(text.stdout, /^erp: vm: a virtual machine$/m);
  assert.match(text.stdout, /^ {4}DF-VM-5: .* \(the common comparison, Decision Framework \/ Choose VMs When: "Compliance mandates VM-level isolation"\)$/m);
  const json = isola('advise', EXAMPLE, '--json');
  assert.equal(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  assert.deepEqual(report.workloads.map((w: { recommendation: string }) => w.recommendation),
    ['hybrid', 'container', 'hybrid', 'hardened-container', 'vm', 'container']);
  assert.deepEqual(report.workloads.map((w: { fit: string }) => w.fit),
    ['REQUIRES_EFFORT', 'FIT', 'REQUIRES_EFFORT', 'REQUIRES_EFFORT', 'NO_FIT', 'UNKNOWN']);
});

test('isola advise --measured states where the figures come from', () => {
  const m = file('measured.json', JSON.stringify(compareFixture({ accelerator: 'tcg', emulated: true })));
  const r = isola('advise', EXAMPLE, '--measured', m);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /from emulation \(TCG\)/);
});

test('isola plan --host 128G/32 reproduces the density example with its arithmetic', () => {
  const r = isola('plan', EXAMPLE, '--host', '128G/32', '--reserved', '4G');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /memory: \(128\.0GiB − 4\.00GiB reserved\) \/ \(4\.00GiB \+ 124\.9MiB VMM\) = 30\.08 → 30/);
  assert.match(r.stdout, /"≈ 25-30 VMs max": 30 is within 25-30/);
  assert.match(r.stdout, /"≈ 100-200 containers": 226 is above 100-200/);
  const json = JSON.parse(isola('plan', EXAMPLE, '--json', '--overcommit-cpu', '2').stdout);
  assert.deepEqual(json.density[0].comparisonExample.map((row: { claim: { rule: string } }) => row.claim.rule), ['DEN-VM', 'DEN-C']);
  assert.equal(json.assumptions.find((a: { key: string }) => a.key === 'vm.cpuFactor').provenance, 'comparison');
  assert.equal(json.assumptions.find((a: { key: string }) => a.key === 'overcommit.cpu').value, 2);
  assert.equal(json.placements.length, 3);
});

test('bad input: one line naming the field, exit 125, no output', () => {
  failsWith(isola('plan', EXAMPLE, '--host', '128G/0'), /invalid --host "128G\/0": cores "0"/);
  failsWith(isola('plan', EXAMPLE, '--reserved', '4096'), /--reserved "4096": a size needs a unit/);
  failsWith(isola('plan', EXAMPLE, '--overcommit-mem', '-1'), /--overcommit-mem "-1"/);
  failsWith(isola('plan', EXAMPLE, '--assume', 'host.prize=1'), /unknown assumption "host.prize"/);
  failsWith(isola('advise', file('bad.yaml', 'workloads:\n  - name: a\n    memory: 512\n')), /bad\.yaml:3: workloads\[0\]\.memory: unit-less size 512/);
  failsWith(isola('advise', file('broken.yaml', 'workloads: [\n')), /broken\.yaml:\d+: malformed YAML/);
  failsWith(isola('plan', file('nohost.yaml', 'hosts: []\n')), /nohost\.yaml:1: hosts: empty list: zero hosts/);
  failsWith(isola('plan', file('whale.yaml', 'workloads:\n  - name: whale\n    memory: 1Ti\n    cpus: 1\n'), '--host', '128G/32'),
    /whale\.yaml:2: workload "whale" is larger than any host: as container .* more memory than host 128G\/32 offers/);
  failsWith(isola('advise', EXAMPLE, '--measured', file("v4.json", JSON.stringify({ ...compareFixture(), version: 4 }))), /version is 4, this isola reads version 1 or 2 or 3/);
  failsWith(isola('advise', EXAMPLE, '--measured', file('other.json', '{"format": "something-else"}')), /format is "something-else"/);
  failsWith(isola('advise', join(dir, 'missing.yaml')), /does not exist/);
});

test('advise without a file and without a terminal says what to do', () => {
  failsWith(isola('advise'), /isola advise needs a workload file; give FILE/);
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
test('on a terminal without a file, advise asks the questions', { skip: hasScript ? false : 'util-linux script(1) not installed: no pseudo-terminal' }, () => {
  // script(1) gives the CLI a pseudo-terminal, so process.stdin.isTTY is true as for a person.
  const answers = ['pty-test', 'windows', ...Array(11).fill('')].map((l) => `${l}\n`).join('');
  const r = spawnSync('script', ['-qec', `${process.execPath} ${join(ROOT, 'bin', 'isola.js')} advise`, '/dev/null'], {
    cwd: ROOT, encoding: 'utf8', input: answers, timeout: 20_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Guest OS \(linux \| windows \| other\)/);
  assert.match(r.stdout, /pty-test: vm: a virtual machine/);
  assert.match(r.stdout, /container fit: NO_FIT/);
});
