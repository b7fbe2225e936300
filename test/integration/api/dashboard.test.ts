import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import zlib from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { hostLeftovers, isola, makeFixture, type Fixture } from '../../helpers/fixture.js';
import { startServe, type Served } from '../../helpers/serve.js';
import { freePort } from '../../helpers/registry.js';
import { compareFixture, ROOT } from '../../unit/advise/fixtures.js';
import { saveLatestReport } from '../../../src/bench/latest-report.js';
import { renderTable } from '../../../src/bench/render-table.js';

/**
 * The dashboard in real headless Chromium (Debian's, driven by playwright-core) against the real
 * `isola serve` on loopback TCP with a bearer token: log in with the token, the page lists a
 * container and a VM started from the CLI, logs stream, a chart updates, the measured security
 * profile shows, the VM's serial console streams (read-only, the reason shown), a click stops the
 * container and the CLI sees it stopped, the keyboard starts it again; no console error, no
 * request elsewhere; a screenshot is not blank; a phone-sized screen has no sideways scrolling.
 * Then CSRF: a page of another origin on the same host, with the session cookie in the browser,
 * cannot stop the container, nor can the page itself without its token.
 */
const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token-0123456789abcdef';
let fx: Fixture;
let served: Served;
let port: number;
let origin: string;
let browser: Browser;
let evil: http.Server | null = null;

const TICKER = 'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done';

async function stateOf(name: string): Promise<string | undefined> {
  const r = await isola(fx.root, ['ps', '-a', '--json']);
  return (JSON.parse(r.stdout) as { name: string; state: string }[]).find((x) => x.name === name)?.state;
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

/** Distinct byte values of a PNG's pixel data (inflated IDAT): a blank page has a handful. */
function pngVariety(png: Buffer): number {
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  const idat: Buffer[] = [];
  for (let off = 8; off < png.length;) {
    const len = png.readUInt32BE(off);
    if (png.subarray(off + 4, off + 8).toString() === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  return new Set(zlib.inflateSync(Buffer.concat(idat))).size;
}

async function login(page: Page): Promise<void> {
  await page.goto(`${origin}/dashboard/`);
  await page.getByLabel('Token').fill(TOKEN);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForSelector('#app:not([hidden])');
}

before(async () => {
  fx = await makeFixture();
  port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  const tokenFile = path.join(fx.root, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  served = await startServe(fx.root, ['--tcp', `127.0.0.1:${port}`, '--token-file', tokenFile]);
  const c = await isola(fx.root, ['run', '-d', '--name', 'dash-c', '--health-cmd', 'true', '--health-interval', '1s', 'base', 'sh', '-c', TICKER]);
  assert.equal(c.code, 0, c.stderr);
  const v = await isola(fx.root, ['run', '-d', '--as', 'vm', '--name', 'dash-vm', 'base', 'sh', '-c', TICKER], { timeoutMs: 180_000 });
  assert.equal(v.code, 0, v.stderr);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  evil?.close();
  await isola(fx.root, ['rm', '-f', 'dash-c', 'dash-vm']).catch(() => undefined);
  await served?.stop();
  await fx?.dispose();
});

test('the dashboard lists the CLI\'s instances, streams logs, updates a chart, stops with a click and starts from the keyboard', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  const elsewhere: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('request', (r) => {
    if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith('data:')) elsewhere.push(r.url());
  });
  await login(page);

  const row = (name: string) => page.locator(`#instances tbody tr[data-name="${name}"]`);
  await row('dash-c').waitFor();
  await row('dash-vm').waitFor();
  assert.equal((await row('dash-vm').locator('td').nth(1).textContent()), 'vm');
  assert.equal((await row('dash-c').locator('td').nth(1).textContent()), 'container');
  assert.equal(await row('dash-c').getAttribute('data-state'), 'running');
  await waitFor('health shown', async () => (await row('dash-c').locator('td.health').textContent()) === 'healthy');

  // Logs stream: the ticker's lines keep coming.
  await page.getByRole('button', { name: 'Details of dash-c' }).click();
  const ticks = async () => (await page.locator('#logs').textContent())?.match(/tick \d+/g)?.length ?? 0;
  const first = await waitFor('logs', async () => (await ticks()) || undefined);
  await waitFor('more log lines', async () => (await ticks()) >= first + 2);
  // A chart updates: its points grow with each sample.
  const points = async (id: string) => Number(await page.locator(id).getAttribute('data-points'));
  const p0 = await waitFor('a chart point', async () => (await points('#mem-chart')) || undefined);
  await waitFor('the chart to update', async () => (await points('#mem-chart')) > p0 && (await points('#cpu-chart')) >= 1);

  // The measured security profile, as isola inspect --security prints it.
  await page.getByRole('button', { name: 'Measure the isolation' }).click();
  await waitFor('the security profile', async () => /seccomp\s+filter/.test((await page.locator('#security').textContent()) ?? ''), 60_000);

  const shot = await page.screenshot({ fullPage: true });
  assert.ok(pngVariety(shot) > 20, 'the screenshot is not blank');

  // The VM's logs stream too.
  await page.getByRole('button', { name: 'Details of dash-vm' }).click();
  await waitFor('the VM\'s log lines', async () => ((await page.locator('#logs').textContent())?.match(/tick \d+/g)?.length ?? 0) >= 2, 60_000);
  assert.match((await page.locator('#logs-h').textContent()) ?? '', /the workload's output from the VM/);
  // Its serial console, live, read-only with the reason shown; the same text isola console prints.
  await waitFor('the VM\'s console', async () => /isola-init: userspace at/.test((await page.locator('#console').textContent()) ?? ''), 60_000);
  assert.ok(await page.getByText('Read-only: QEMU writes the VM\'s serial console to a file').isVisible());
  const cliConsole = (await isola(fx.root, ['console', 'dash-vm'])).stdout;
  assert.ok(cliConsole.startsWith(((await page.locator('#console').textContent()) ?? '').slice(0, 200)), 'the page shows what isola console prints');
  // A container has none: the box is hidden, and the route says why in one line.
  await page.getByRole('button', { name: 'Details of dash-c' }).click();
  await waitFor('the console box to hide', async () => await page.locator('#console-box').isHidden());
  const none = await new Promise<[number, string]>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/dashboard/console/dash-c', headers: { Authorization: `Bearer ${TOKEN}` } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve([res.statusCode ?? 0, body]));
    }).on('error', reject);
  });
  assert.equal(none[0], 409);
  assert.match(none[1], /^\{"message":"dash-c is a container and has no serial console[^\n]*\}\n?$/);

  // A click stops it, and the CLI sees it stopped.
  await page.getByRole('button', { name: 'Stop dash-c' }).click();
  await waitFor('the CLI to see dash-c stopped', async () => (await stateOf('dash-c')) === 'exited');
  await waitFor('the page to show it', async () => (await row('dash-c').getAttribute('data-state')) === 'exited');

  // The keyboard alone starts it again.
  await page.locator('#logout').focus();
  let label: string | null = null;
  for (let i = 0; i < 60 && label !== 'Start dash-c'; i++) {
    await page.keyboard.press('Tab');
    label = await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? null);
  }
  assert.equal(label, 'Start dash-c', 'the Start button is reachable with Tab');
  await page.keyboard.press('Enter');
  await waitFor('the CLI to see dash-c running', async () => (await stateOf('dash-c')) === 'running');

  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(elsewhere, [], 'no request to anywhere else');
  await page.close();
});

test('a phone-sized screen: everything fits without sideways scrolling', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await login(page);
  await page.locator('#instances tbody tr[data-name="dash-c"]').waitFor();
  const [scroll, inner] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= inner, `page ${scroll} px wide on a ${inner} px screen`);
  await page.close();
});

test('CSRF: another origin on the same host cannot stop an instance with the browser\'s session, nor the page without its token', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await login(page);
  // The page itself, without the token: refused.
  const bare = await page.evaluate(async () => (await fetch('/containers/dash-c/stop', { method: 'POST' })).status);
  assert.equal(bare, 403);
  // A page of another origin (another port of 127.0.0.1: the same site, so the cookie goes along).
  const evilPort = await freePort();
  evil = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<form id="f" method="POST" action="${origin}/containers/dash-c/stop"></form>`);
  }).listen(evilPort, '127.0.0.1');
  const evilPage = await ctx.newPage();
  await evilPage.goto(`http://127.0.0.1:${evilPort}/`);
  const fetched = await evilPage.evaluate(async (u) => {
    await fetch(`${u}/containers/dash-c/stop`, { method: 'POST', credentials: 'include', mode: 'no-cors' }).catch(() => undefined);
    return true;
  }, origin);
  assert.ok(fetched);
  await Promise.all([evilPage.waitForURL(`${origin}/**`), evilPage.evaluate(() => (document.getElementById('f') as HTMLFormElement).submit())]);
  await evilPage.waitForLoadState();
  assert.match(await evilPage.content(), /cross-origin request refused/);
  await sleep(1000);
  assert.equal(await stateOf('dash-c'), 'running', 'the instance was not stopped');
  // A name that could be rebound to another address (DNS rebinding) is refused for browsers.
  const rebound = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/containers/json', headers: { Host: `attacker.example:${port}`, 'Sec-Fetch-Site': 'same-origin', Authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
  assert.equal(rebound, 403);
  await ctx.close();
});

test('the latest compare report shows, and a plan of an inventory (a file, from the keyboard) is isola plan\'s; a bad one is one line', async () => {
  const report = compareFixture();
  const latest = saveLatestReport(fx.root, report);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  await login(page);
  await page.locator('#compare:not([hidden])').waitFor();
  assert.equal(await page.locator('#compare').textContent(), renderTable(report, { color: false }), 'the table isola compare prints');

  const inventory = path.join(ROOT, 'examples', 'workloads.yaml');
  await page.locator('#inventory-file').setInputFiles(inventory);
  await waitFor('the file in the text area', async () => (await page.locator('#inventory').inputValue()).includes('payments-api'));
  // The keyboard alone: from the text area, Tab to Plan, Enter.
  await page.locator('#inventory').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'plan-run');
  await page.keyboard.press('Enter');
  await page.locator('#plan:not([hidden])').waitFor();
  const cli = await isola(fx.root, ['plan', inventory, '--measured', latest]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(await page.locator('#plan').textContent(), cli.stdout, 'the same text as isola plan --measured with the latest report');

  await page.locator('#inventory').fill('workloads: 5\n');
  await page.getByRole('button', { name: 'Plan' }).click();
  await waitFor('the error', async () => (await page.locator('#plan-error').textContent()) || undefined);
  const err = (await page.locator('#plan-error').textContent()) ?? '';
  assert.match(err, /^Plan failed: \S.*$/);
  assert.ok(!err.includes('\n'), 'one line');
  assert.ok(await page.locator('#plan').isHidden());
  assert.deepEqual(errors, [], 'no console errors');
  await page.close();
});

test('nothing left on the host once the instances are removed', async () => {
  const rm = await isola(fx.root, ['rm', '-f', 'dash-c', 'dash-vm']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(hostLeftovers(fx), []);
});
