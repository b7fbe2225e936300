import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWrk } from '../../../src/bench/load.js';
import { parseAppProbe } from '../../../src/cli/compare.js';

/** wrk 4.1.0's report as it printed it here against a local server (-t 1 -c 4 -d 1s --latency). */
const REPORT = `Running 1s test @ http://127.0.0.1:18089/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   195.83us  555.76us   6.84ms   93.97%
    Req/Sec    54.03k    23.56k   74.51k    80.00%
  Latency Distribution
     50%   62.00us
     75%   85.00us
     90%  296.00us
     99%    2.93ms
  53621 requests in 1.00s, 6.34MB read
Requests/sec:  53520.01
Transfer/sec:      6.33MB
`;

test('wrk\'s report: requests, requests per second, p50 and p99 in ms, errors counted', () => {
  const r = parseWrk(REPORT);
  assert.ok(r);
  assert.equal(r.requests, 53621);
  assert.equal(r.rps, 53520.01);
  assert.equal(r.p50Ms, 0.062);
  assert.equal(r.p99Ms, 2.93);
  assert.equal(r.socketErrors, 0);
  assert.equal(r.non2xx3xx, 0);
  const bad = parseWrk(`${REPORT}  Socket errors: connect 1, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 7\n`);
  assert.equal(bad?.socketErrors, 6);
  assert.equal(bad?.non2xx3xx, 7);
  assert.equal(parseWrk('unable to connect to 10.0.0.1:80 Connection refused'), null);
});

test('--http PORT[/PATH] and --tcp PORT', () => {
  assert.deepEqual(parseAppProbe('8080', undefined), { kind: 'http', port: 8080, path: '/' });
  assert.deepEqual(parseAppProbe('8080/health?x=1', undefined), { kind: 'http', port: 8080, path: '/health?x=1' });
  assert.deepEqual(parseAppProbe(undefined, '5432'), { kind: 'tcp', port: 5432 });
  assert.equal(parseAppProbe(undefined, undefined), undefined);
  assert.throws(() => parseAppProbe('80', '81'), /--http and --tcp were both given/);
  assert.throws(() => parseAppProbe('65536', undefined), /invalid --http port "65536"/);
  assert.throws(() => parseAppProbe(undefined, '-1'), /invalid --tcp port "-1"/);
});
