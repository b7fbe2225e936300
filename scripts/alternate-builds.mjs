// Two builds of the CLI timed against each other, alternated: `node scripts/alternate-builds.mjs
// ROUNDS OLD/bin/isola.js NEW/bin/isola.js ARGS...` (OLD: a copy of bin/, dist/ and package.json
// of the code before a change, with node_modules beside it). Two warm-up pairs, then ROUNDS pairs,
// the order swapped every round; a run that exits non-zero stops it (a failure is never a sample).
// Prints both medians and the median of the pair-by-pair differences. Commands that start
// containers go under the integration lock (flock /tmp/isola-integration.lock), with ISOLA_ROOT
// set to a private data root.
import { spawnSync } from 'node:child_process';

const [,, n, a, b, ...args] = process.argv;
if (!n || !a || !b) {
  process.stderr.write('usage: node scripts/alternate-builds.mjs ROUNDS OLD/bin/isola.js NEW/bin/isola.js ARGS...\n');
  process.exit(2);
}
const run = (bin) => {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${bin} exited with ${r.status}: ${r.stderr}`);
  return ms;
};
const A = [];
const B = [];
for (let i = 0; i < 2; i++) { run(a); run(b); }
for (let i = 0; i < Number(n); i++) {
  if (i % 2) { B.push(run(b)); A.push(run(a)); } else { A.push(run(a)); B.push(run(b)); }
}
const med = (x) => { const s = [...x].sort((p, q) => p - q); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const d = A.map((v, i) => B[i] - v);
process.stdout.write(`old ${med(A).toFixed(1)} ms, new ${med(B).toFixed(1)} ms, new-old pair by pair median ${med(d).toFixed(1)} ms, new faster in ${d.filter((x) => x < 0).length}/${d.length}\n`);
