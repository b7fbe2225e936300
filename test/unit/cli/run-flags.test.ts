import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDevice, parseEnvFile, parseLabels, parseLogOpts, parseSignal, parseStopTimeout, parseUlimit, readEnvFiles } from '../../../src/cli/run-flags.js';
import { parseTimeArg } from '../../../src/cli/time-arg.js';
import { toRunRequest } from '../../../src/cli/run.js';
import { isIsolaError } from '../../../src/core/errors.js';

const bad = (fn: () => unknown, what: string) => assert.throws(fn, (e) => isIsolaError(e) && e.code !== 'INTERNAL' && !e.oneLine().includes('\n'), what);

test('--env-file: KEY=VALUE lines kept verbatim, comments and blank lines skipped, bad names refused with the line', () => {
  assert.deepEqual(parseEnvFile('# comment\nA=1\n\n  B="two words"\nPASSED\nC=\n', 'f'), ['A=1', 'B="two words"', 'PASSED', 'C=']);
  assert.throws(() => parseEnvFile('A=1\nBAD KEY=2\n', 'vars.env'), (e) => isIsolaError(e, 'INVALID_ARGUMENT') && /vars\.env:2/.test(e.message));
  bad(() => readEnvFiles(['/nonexistent/env']), 'missing file');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'envfile-'));
  fs.writeFileSync(path.join(dir, 'e'), 'X=1\nY=2\n');
  const req = toRunRequest('base', [], {
    as: 'container', network: 'bridge', env: ['Y=3'], publish: [], capAdd: [], capDrop: [], securityOpt: [], envFile: [path.join(dir, 'e')],
    firmware: 'bios', diskBus: 'virtio', volume: [], mount: [], tmpfs: [], addHost: [], dns: [], dnsSearch: [], dnsOption: [],
  });
  assert.deepEqual(req.env, ['X=1', 'Y=2', 'Y=3'], 'the file first, -e after it (so -e wins)');
  fs.rmSync(dir, { recursive: true });
});

test('--label, --ulimit, --stop-signal, --stop-timeout, --log-opt', () => {
  assert.deepEqual(parseLabels(['a=1', 'b', 'c=x=y']), { a: '1', b: '', c: 'x=y' });
  bad(() => parseLabels(['=v']), 'empty label key');
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { name: 'nofile', soft: 1024, hard: 2048 });
  assert.deepEqual(parseUlimit('core=-1'), { name: 'core', soft: -1, hard: -1 });
  assert.deepEqual(parseUlimit('nproc=10:-1'), { name: 'nproc', soft: 10, hard: -1 });
  for (const u of ['nofile', 'nofile=', 'nofile=a', 'bogus=1', 'nofile=10:5', 'nofile=-1:10', 'nofile=-5', 'NOFILE=1']) bad(() => parseUlimit(u), u);
  assert.equal(parseSignal('usr1'), 'SIGUSR1');
  assert.equal(parseSignal('SIGQUIT'), 'SIGQUIT');
  assert.equal(parseSignal('9'), '9');
  for (const s of ['SIGNOPE', '0', '65', 'x']) bad(() => parseSignal(s), s);
  assert.equal(parseStopTimeout('30'), 30);
  bad(() => parseStopTimeout('-1'), 'negative stop timeout');
  bad(() => parseStopTimeout('soon'), 'stop timeout');
  assert.deepEqual(parseLogOpts(['max-size=1m']), { logMaxBytes: 1024 * 1024 });
  assert.deepEqual(parseLogOpts(['max-size=1m', 'max-file=1']), { logMaxBytes: 1024 * 1024 });
  for (const o of [['max-file=3'], ['max-size=lots'], ['compress=true']]) bad(() => parseLogOpts(o), o.join());
});

test('--device: a host device for a container; refused for VMs, and for what is not a device', () => {
  const d = parseDevice('/dev/null:/dev/mynull:rw', 'container');
  assert.equal(d.type, 'c');
  assert.equal(d.major, 1);
  assert.equal(d.minor, 3);
  assert.equal(d.containerPath, '/dev/mynull');
  assert.equal(d.permissions, 'rw');
  assert.equal(parseDevice('/dev/zero', 'container').minor, 5);
  assert.equal(parseDevice('/dev/zero:r', 'container').permissions, 'r');
  bad(() => parseDevice('/dev/null', 'vm'), 'vm');
  bad(() => parseDevice('/dev/null', 'hybrid'), 'hybrid');
  bad(() => parseDevice('/etc/passwd', 'container'), 'not a device');
  bad(() => parseDevice('/dev/nonexistent-device', 'container'), 'missing');
  bad(() => parseDevice('/dev/null:/dev/x:rwx', 'container'), 'bad permissions');
  bad(() => parseDevice('null', 'container'), 'relative');
});

test('run flags that conflict or are bad are refused before anything is made', () => {
  const base = {
    as: 'container', network: 'bridge', env: [], publish: [], capAdd: [], capDrop: [], securityOpt: [],
    firmware: 'bios', diskBus: 'virtio', volume: [], mount: [], tmpfs: [], addHost: [], dns: [], dnsSearch: [], dnsOption: [],
  };
  bad(() => toRunRequest('base', [], { ...base, restart: 'sometimes' }), 'unknown policy');
  bad(() => toRunRequest('base', [], { ...base, restart: 'on-failure:many' }), 'bad count');
  bad(() => toRunRequest('base', [], { ...base, restart: 'always', rm: true }), '--rm with --restart');
  bad(() => toRunRequest('base', [], { ...base, healthInterval: '5' }), 'bad duration');
  bad(() => toRunRequest('base', [], { ...base, as: 'vm', device: ['/dev/null'] }), '--device with a VM');
  bad(() => toRunRequest('base', [], { ...base, ulimit: ['nofile=9:1'] }), 'bad ulimit');
  const ok = toRunRequest('base', [], { ...base, restart: 'on-failure:3', healthCmd: 'true', healthInterval: '1s', label: ['a=b'], init: true, stopSignal: 'INT', stopTimeout: '3' });
  assert.deepEqual(ok.restart, { name: 'on-failure', maxRetries: 3 });
  assert.deepEqual(ok.health, { cmd: 'true', interval: '1s' });
  assert.equal(ok.stopSignal, 'SIGINT');
  assert.equal(ok.stopTimeout, 3);
  assert.equal(ok.init, true);
});

test('--since and --until take RFC 3339, Unix times and durations before now', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  assert.equal(parseTimeArg('2024-05-01T10:00:00Z', '--since', now), Date.parse('2024-05-01T10:00:00Z'));
  assert.equal(parseTimeArg('1714557600', '--since', now), 1714557600_000);
  assert.equal(parseTimeArg('1714557600.5', '--since', now), 1714557600_500);
  assert.equal(parseTimeArg('10m', '--since', now), now - 600_000);
  assert.equal(parseTimeArg('1h30m', '--since', now), now - 5_400_000);
  for (const t of ['yesterday', '10', '2024-13-45']) if (t !== '10') bad(() => parseTimeArg(t, '--since', now), t);
});
