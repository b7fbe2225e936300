// Two builds of the CLI timed against each other, alternated: `node scripts/alternate-builds.mjs
// [--first-output] ROUNDS OLD/bin/isola.js NEW/bin/isola.js ARGS...` (OLD: a copy of bin/, dist/
// and package.json of the code before a change, with node_modules beside it). Two warm-up pairs,
// then ROUNDS pairs, the order swapped every round; a run that exits non-zero stops it (a failure
// is never a sample). Times each run to its exit, or with --first-output to the first byte on its
// stdout (the run must still exit 0 and write something). Prints both medians and the median of
// the pair-by-pair differences. Commands that start containers go under the integration lock
// (flock /tmp/isola-integration.lock), with ISOLA_ROOT set to a private data root.
import { spawn } from 'node:child_process';

const argv = process.argv.slice(2);
const firstOutput = argv[0] === '--first-output';
const [n, a, b, ...args] = firstOutput ? argv.slice(1) : argv;
if (!n || !a || !b) {
  process.stderr.write('usage: node scripts/alternate-builds.mjs [--first-output] ROUNDS OLD/bin/isola.js NEW/bin/isola.js ARGS...\n');
  process.exit(2);
}
const run = (bin) => new Promise((resolve, reject) => {
  const t = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - t) / 1e6;
  let first = null;
  let stderr = '';
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', () => { first ??= since(); });
  child.stderr.on('data', (d) => { stderr += d; });
  child.on('exit', (code) => {
    const ms = since();
    if (code !== 0) reject(new Error(`${bin} exited with ${code}: ${stderr}`));
    else if (firstOutput && first === null) reject(new Error(`${bin} wrote nothing on stdout`));
    else resolve(firstOutput ? first : ms);
  });
});
const A = [];
const B = [];
for (let i = 0; i < 2; i++) { await run(a); await run(b); }
for (let i = 0; i < Number(n); i++) {
  if (i % 2) { B.push(await run(b)); A.push(await run(a)); } else { A.push(await run(a)); B.push(await run(b)); }
}
const med = (x) => { const s = [...x].sort((p, q) => p - q); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const d = A.map((v, i) => B[i] - v);
process.stdout.write(`${firstOutput ? 'to the first output: ' : ''}old ${med(A).toFixed(1)} ms, new ${med(B).toFixed(1)} ms, new-old pair by pair median ${med(d).toFixed(1)} ms, new faster in ${d.filter((x) => x < 0).length}/${d.length}\n`);
