// The isola dashboard: plain JavaScript, no library, nothing loaded from elsewhere. It drives the
// Docker Engine API of the server that serves it, with the session cookie and, on every request
// that changes something, the session's CSRF token (X-Isola-CSRF).

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 2000;
const CHART_POINTS = 90;

const state = {
  csrf: null,
  selected: null, // instance id
  logAbort: null,
  samples: [], // { t, cpuNs, mem }
  cpu: [],
  mem: [],
  timers: [],
};

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== 'GET' && method !== 'HEAD') headers['X-Isola-CSRF'] = state.csrf ?? '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (!r.ok && r.status !== 304) {
    let message = `${r.status} ${r.statusText}`;
    try {
      message = (await r.json()).message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new HttpError(r.status, message);
  }
  return r;
}

const getJson = async (path) => (await api('GET', path)).json();

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function bytes(n) {
  if (n == null) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function status(text) {
  $('#conn').textContent = text;
}

// ---- session ------------------------------------------------------------------------------

async function begin() {
  const s = await getJson('/dashboard/session');
  if (!s.csrf) {
    $('#login').hidden = false;
    $('#app').hidden = true;
    $('#token').focus();
    return;
  }
  state.csrf = s.csrf;
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#logout').hidden = false;
  await refresh();
  void showCompare();
  state.timers.push(setInterval(() => void refresh(), POLL_MS));
  state.timers.push(setInterval(() => void sampleStats(), POLL_MS));
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    const r = await fetch('/dashboard/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin', body: JSON.stringify({ token: $('#token').value }) });
    if (!r.ok) throw new Error((await r.json()).message);
    $('#token').value = '';
    await begin();
  } catch (e) {
    $('#login-error').textContent = `Log in failed: ${e.message}`;
  }
});

$('#logout').addEventListener('click', async () => {
  await api('POST', '/dashboard/logout').catch(() => undefined);
  location.reload();
});

// ---- instances ----------------------------------------------------------------------------

function health(c) {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status ?? '');
  return m ? m[1].replace('health: ', '') : '';
}

async function act(id, name, what) {
  $('#action-error').textContent = '';
  try {
    if (what === 'remove') {
      if (!confirm(`Remove ${name}?`)) return;
      await api('DELETE', `/containers/${id}?force=1`);
      if (state.selected === id) select(null);
    } else {
      await api('POST', `/containers/${id}/${what}`);
    }
  } catch (e) {
    $('#action-error').textContent = `${what} ${name}: ${e.message}`;
  }
  await refresh();
}

async function refresh() {
  let list;
  try {
    list = await getJson('/containers/json?all=1');
  } catch (e) {
    status(`not connected: ${e.message}`);
    return;
  }
  status(`connected · ${list.length} instance${list.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()}`);
  const body = $('#instances tbody');
  const rows = list.map((c) => {
    const name = (c.Names?.[0] ?? c.Id).replace(/^\//, '');
    const running = c.State === 'running' || c.State === 'paused';
    const button = (label, what, disabled) => el('button', { type: 'button', disabled, onclick: () => void act(c.Id, name, what), 'aria-label': `${label} ${name}` }, label);
    const tr = el('tr', { 'data-id': c.Id, 'data-name': name, 'data-state': c.State, class: c.Id === state.selected ? 'selected' : '' },
      el('td', {}, el('button', { type: 'button', class: 'link', onclick: () => select(c.Id, name), 'aria-label': `Details of ${name}` }, name)),
      el('td', {}, c.Runtime ?? 'container'),
      el('td', { class: 'wrap' }, c.Image),
      el('td', { class: `state-${c.State}`, title: c.Status }, c.State),
      el('td', { class: 'health' }, health(c)),
      el('td', {}, button('Start', 'start', running), button('Stop', 'stop', !running), button('Restart', 'restart', false), button('Remove', 'remove', false)));
    return tr;
  });
  // Keep the focused button where it was across the refresh.
  const focused = document.activeElement?.getAttribute('aria-label');
  body.replaceChildren(...rows);
  if (focused) [...body.querySelectorAll('button')].find((b) => b.getAttribute('aria-label') === focused)?.focus();
  if (state.selected && !list.some((c) => c.Id === state.selected)) select(null);
  await refreshImages();
}

// ---- one instance: stats and logs ---------------------------------------------------------

function select(id, name) {
  state.logAbort?.abort();
  state.selected = id;
  state.samples = [];
  state.cpu = [];
  state.mem = [];
  draw();
  $('#detail').hidden = !id;
  if (!id) return;
  $('#detail-h').textContent = name;
  $('#detail-h').focus();
  $('#logs').textContent = '';
  $('#console').textContent = '';
  $('#console-box').hidden = true;
  $('#security').hidden = true;
  $('#security').textContent = '';
  for (const tr of document.querySelectorAll('#instances tbody tr')) tr.classList.toggle('selected', tr.dataset.id === id);
  void followLogs(id);
  void sampleStats();
}

async function sampleStats() {
  const id = state.selected;
  if (!id) return;
  let s;
  try {
    s = await getJson(`/containers/${id}/stats?stream=false&one-shot=true`);
  } catch {
    return; // not running: the chart stays as it was
  }
  if (id !== state.selected) return;
  const sample = { t: Date.parse(s.read), cpuNs: s.cpu_stats?.cpu_usage?.total_usage ?? 0, mem: s.memory_stats?.usage ?? 0 };
  const prev = state.samples.at(-1);
  state.samples = [prev, sample].filter(Boolean);
  if (prev && sample.t > prev.t) {
    state.cpu.push(Math.max(0, ((sample.cpuNs - prev.cpuNs) / ((sample.t - prev.t) * 1e6)) * 100));
    $('#cpu-now').textContent = `${state.cpu.at(-1).toFixed(1)} %`;
  }
  state.mem.push(sample.mem);
  $('#mem-now').textContent = `${bytes(sample.mem)}${s.memory_stats?.limit ? ` of ${bytes(s.memory_stats.limit)}` : ''}`;
  state.cpu = state.cpu.slice(-CHART_POINTS);
  state.mem = state.mem.slice(-CHART_POINTS);
  draw();
}

function drawChart(canvas, values, max) {
  const ctx = canvas.getContext('2d');
  const { width: w, height: h } = canvas;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.strokeStyle = '#dde';
  for (let y = 0; y <= 4; y++) {
    ctx.beginPath();
    ctx.moveTo(0, (h * y) / 4);
    ctx.lineTo(w, (h * y) / 4);
    ctx.stroke();
  }
  canvas.dataset.points = String(values.length);
  if (values.length === 0) return;
  const top = Math.max(max, ...values) || 1;
  ctx.strokeStyle = '#1a73e8';
  ctx.lineWidth = 2;
  ctx.beginPath();
  values.forEach((v, i) => {
    const x = values.length === 1 ? w / 2 : (i * (w - 4)) / (values.length - 1) + 2;
    const y = h - 2 - (v / top) * (h - 4);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  if (values.length === 1) ctx.fillRect(w / 2 - 2, h - 2 - (values[0] / top) * (h - 4) - 2, 4, 4);
}

function draw() {
  drawChart($('#cpu-chart'), state.cpu, 100);
  drawChart($('#mem-chart'), state.mem, 0);
}

/** Docker's log stream: 8-byte frames (stream, 0, 0, 0, length) without a TTY, raw bytes with one. */
async function followLogs(id) {
  const abort = new AbortController();
  state.logAbort = abort;
  const pre = $('#logs');
  let tty = false;
  try {
    const info = await getJson(`/containers/${id}/json`);
    tty = Boolean(info.Config?.Tty);
    const kind = info.HostConfig?.Runtime;
    const vm = kind === 'vm' || kind === 'hybrid';
    $('#logs-h').textContent = vm ? `Logs (the workload's output from the ${kind === 'vm' ? 'VM' : 'container in the VM'}; a VM that boots its own OS: its serial console)` : 'Logs';
    if (vm && state.selected === id) void followConsole(id, abort);
    const r = await fetch(`/containers/${id}/logs?stdout=1&stderr=1&follow=1&tail=200`, { signal: abort.signal, credentials: 'same-origin' });
    if (!r.ok) throw new Error((await r.json()).message);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buf = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (tty) {
        append(pre, decoder.decode(value, { stream: true }));
        continue;
      }
      const joined = new Uint8Array(buf.length + value.length);
      joined.set(buf);
      joined.set(value, buf.length);
      buf = joined;
      while (buf.length >= 8) {
        const len = new DataView(buf.buffer, buf.byteOffset + 4, 4).getUint32(0);
        if (buf.length < 8 + len) break;
        append(pre, decoder.decode(buf.subarray(8, 8 + len), { stream: true }));
        buf = buf.subarray(8 + len);
      }
    }
    if (state.selected === id) append(pre, '\n[the instance stopped: logs end here]\n');
  } catch (e) {
    if (!abort.signal.aborted) append(pre, `\n[logs: ${e.message}]\n`);
  }
}

/** A VM's serial console (GET /dashboard/console/ID, plain text, streamed while it runs). */
async function followConsole(id, abort) {
  const pre = $('#console');
  $('#console-box').hidden = false;
  try {
    const r = await fetch(`/dashboard/console/${id}?follow=1`, { signal: abort.signal, credentials: 'same-origin' });
    if (!r.ok) throw new Error((await r.json()).message);
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      append(pre, decoder.decode(value, { stream: true }));
    }
    if (state.selected === id) append(pre, '\n[the VM stopped: its console ends here]\n');
  } catch (e) {
    if (!abort.signal.aborted) append(pre, `\n[console: ${e.message}]\n`);
  }
}

function append(pre, text) {
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(text);
  if (pre.textContent.length > 200_000) pre.textContent = pre.textContent.slice(-100_000);
  if (atEnd) pre.scrollTop = pre.scrollHeight;
}

$('#measure').addEventListener('click', async () => {
  const id = state.selected;
  const pre = $('#security');
  pre.hidden = false;
  pre.textContent = 'measuring (probes run inside the instance)...';
  try {
    const r = await getJson(`/dashboard/security/${id}`);
    if (id === state.selected) pre.textContent = r.text;
  } catch (e) {
    if (id === state.selected) pre.textContent = `not measured: ${e.message}`;
  }
});

// ---- images -------------------------------------------------------------------------------

let imagesShown = '';
async function refreshImages() {
  let list;
  try {
    list = await getJson('/images/json');
  } catch {
    return;
  }
  const key = JSON.stringify(list.map((i) => [i.Id, i.RepoTags]));
  if (key === imagesShown) return;
  imagesShown = key;
  $('#images tbody').replaceChildren(...list.map((i) => {
    const name = i.RepoTags?.[0] ?? i.Id;
    return el('tr', {},
      el('td', { class: 'wrap' }, (i.RepoTags ?? []).join(', ')),
      el('td', {}, i.Id.replace(/^sha256:/, '').slice(0, 12)),
      el('td', {}, bytes(i.Size)),
      el('td', {}, el('button', { type: 'button', onclick: () => void showHistory(i.Id, name), 'aria-label': `History of ${name}` }, 'History')));
  }));
}

async function showHistory(id, name) {
  const rows = await getJson(`/images/${encodeURIComponent(id)}/history`);
  $('#history').hidden = false;
  $('#history-h').textContent = `History of ${name}`;
  $('#history tbody').replaceChildren(...rows.map((r) => el('tr', {},
    el('td', {}, r.Created ? new Date(r.Created * 1000).toISOString().slice(0, 19).replace('T', ' ') : ''),
    el('td', { class: 'wrap' }, r.CreatedBy),
    el('td', {}, bytes(r.Size)))));
  $('#history-h').focus();
}

begin().catch((e) => status(`not connected: ${e.message}`));

// ---- the latest isola compare report, and isola plan of an inventory ------------------------

async function showCompare() {
  try {
    const r = await getJson('/dashboard/compare');
    if (!r.report) {
      $('#compare-meta').textContent = `No comparison yet: isola compare keeps its latest report in ${r.path}.`;
      $('#compare').hidden = true;
      return;
    }
    $('#compare-meta').textContent = `isola compare, ${new Date(r.report.when).toLocaleString()} (VMs: ${r.report.accelerator}); plans below use its figures.`;
    $('#compare').textContent = r.report.text;
    $('#compare').hidden = false;
  } catch (e) {
    $('#compare-meta').textContent = `The latest comparison could not be read: ${e.message}`;
  }
}

$('#inventory-file').addEventListener('change', async () => {
  const f = $('#inventory-file').files[0];
  if (f) $('#inventory').value = await f.text();
});

$('#plan-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#plan-error').textContent = '';
  $('#plan').hidden = true;
  try {
    const r = await (await api('POST', '/dashboard/plan', { inventory: $('#inventory').value })).json();
    if (r.error) {
      $('#plan-error').textContent = `Plan failed: ${r.error}`;
      return;
    }
    $('#plan').textContent = r.text;
    $('#plan').hidden = false;
    $('#plan').focus();
  } catch (e) {
    $('#plan-error').textContent = `Plan failed: ${e.message}`;
  }
});
