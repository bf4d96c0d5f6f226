// Headless-browser check of the maestra-backend /dashboard page.
//
// Starts the real server binary on a loopback port with a temporary
// metrics file and log directory, sends it a little traffic, opens
// /dashboard in Debian's chromium through playwright-core and checks what
// a person would read off it: the figures match /metrics, every chart has
// points, the page fits a phone, the dark scheme applies, and a stopped
// server shows as an error. Screenshots go to ARTIFACT_DIR.
//
//   npm ci --prefix tests/browser
//   cargo build -p maestra-backend
//   node tests/browser/dashboard.test.mjs
//
// Environment: MAESTRA_BACKEND_BIN (default target/debug/maestra-backend
// under the repository root), ARTIFACT_DIR (default
// target/browser-artifacts), CHROMIUM_PATH (default /usr/bin/chromium).

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = path.resolve(
  process.env.MAESTRA_BACKEND_BIN ||
    path.join(ROOT, 'target', 'debug', 'maestra-backend'));
const ARTIFACTS = path.resolve(
  process.env.ARTIFACT_DIR || path.join(ROOT, 'target', 'browser-artifacts'));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

// The whole run stays under a minute; each wait has its own smaller bound.
const DEADLINE_MS = 55_000;
const START_TIMEOUT_MS = 10_000;
const HISTORY_TIMEOUT_MS = 15_000;
const PAGE_TIMEOUT_MS = 10_000;

const KEY = 'browser-test-' + randomBytes(12).toString('hex');
const CHARTS = [
  'requests_per_second', 'error_rate', 'latency', 'daily_cost_usd',
  'active_conversations',
];
const FIGURES = [
  'uptime_seconds', 'error_rate', 'avg_latency_ms', 'daily_cost_usd',
  'active_conversations', 'total_requests',
];
// Figures that cannot move once traffic stops (uptime and the rolling
// window do, so they are left out of the equality check).
const STABLE = [
  'total_requests', 'total_errors', 'active_conversations',
  'avg_latency_ms', 'error_rate', 'daily_cost_usd', 'total_cost_usd',
];

let passed = 0;
let failed = 0;
let server = null;
let browser = null;
let workDir = null;

function check(name, ok, detail = '') {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(what, timeoutMs, probe) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
  }
}

function finish() {
  killServer();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

process.on('exit', killServer);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    failed++;
    console.log(`FAIL interrupted by ${sig}`);
    finish();
  });
}
setTimeout(() => {
  check(`whole run within ${DEADLINE_MS / 1000} s`, false, 'deadline hit');
  finish();
}, DEADLINE_MS).unref();

// Starts the binary and resolves with its base URL from the stderr line
// `maestra-backend VERSION listening on http://ADDR`.
function startServer() {
  workDir = mkdtempSync(path.join(tmpdir(), 'maestra-browser-'));
  const env = {
    ...process.env,
    MAESTRA_BIND: '127.0.0.1:0',
    MAESTRA_METRICS_PATH: path.join(workDir, 'metrics.jsonl'),
    MAESTRA_LOG_DIR: path.join(workDir, 'logs'),
    MAESTRA_API_KEYS: KEY,
    MAESTRA_HISTORY_INTERVAL_S: '1',
    HOME: workDir,
  };
  // Nothing in this test may leave the machine.
  for (const name of ['MAESTRA_SLACK_WEBHOOK_URL', 'MAESTRA_UPSTREAM_URL',
    'MAESTRA_UPSTREAM_API_KEY', 'PORT']) {
    delete env[name];
  }

  server = spawn(BIN, [], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `no listening line within ${START_TIMEOUT_MS} ms; stderr: ` +
        stderr.join('').slice(-400))), START_TIMEOUT_MS);
    let buffer = '';
    server.stderr.setEncoding('utf8');
    server.stderr.on('data', (chunk) => {
      stderr.push(chunk);
      buffer += chunk;
      const m = /^maestra-backend (\S+) listening on (http:\/\/\S+)\s*$/m
        .exec(buffer);
      if (m) {
        clearTimeout(timer);
        resolve({ version: m[1], base: m[2] });
      }
    });
    server.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`failed to start ${BIN}: ${err.message}`));
    });
    server.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${code ?? sig}); stderr: ` +
        stderr.join('').slice(-400)));
    });
  });
}

async function api(base, pathname, init = {}) {
  const res = await fetch(base + pathname, {
    ...init,
    headers: { 'X-API-Key': KEY, ...(init.headers || {}) },
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body };
}

// A handful of chats (some sharing a conversation) and some 404s.
async function driveTraffic(base) {
  let ok = 0;
  let notFound = 0;
  for (let i = 0; i < 9; i++) {
    const body = {
      message: `browser test message ${i}: how are the figures?`,
      user_id: 'u1',
      surface_id: 'windsurf',
    };
    if (i % 3 !== 0) body.conversation_id = `conv_browser_${i % 3}`;
    const res = await api(base, '/api/maestra/chat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status === 200) ok++;
  }
  for (let i = 0; i < 3; i++) {
    const res = await api(base, `/no-such-path-${i}`);
    if (res.status === 404) notFound++;
  }
  return { ok, notFound };
}

function luminance(css) {
  const m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(css);
  if (!m) return null;
  const [r, g, b] = m.slice(1, 4).map((v) => {
    const c = Number(v) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

async function figuresOnPage(page) {
  return page.$$eval('[data-metric]', (els) => {
    const out = {};
    for (const el of els) {
      out[el.getAttribute('data-metric')] = {
        value: el.getAttribute('data-value'),
        text: el.textContent.trim(),
      };
    }
    return out;
  });
}

async function chartsOnPage(page) {
  return page.$$eval('[data-chart]', (els) => els.map((el) => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\s+/);
    const name = ids.map((id) => {
      const ref = document.getElementById(id);
      return ref ? ref.textContent.trim() : '';
    }).join(' ').trim() || el.getAttribute('aria-label') || '';
    return {
      chart: el.getAttribute('data-chart'),
      points: Number(el.getAttribute('data-points')),
      role: el.getAttribute('role'),
      name,
    };
  }));
}

async function statusOf(page) {
  return page.$eval('#status', (el) => ({
    state: el.getAttribute('data-state'),
    text: el.textContent.trim().replace(/\s+/g, ' '),
  }));
}

async function refreshesOf(page) {
  return Number(await page.$eval('main',
    (el) => el.getAttribute('data-refreshes')));
}

function expectedErrorState(rate) {
  if (rate >= 0.05) return 'Alert';
  if (rate >= 0.01) return 'Watch';
  return 'OK';
}

async function run() {
  mkdirSync(ARTIFACTS, { recursive: true });

  let base;
  try {
    const started = await startServer();
    base = started.base;
    check(`server ${started.version} started at ${base}`, true);
  } catch (err) {
    check('server starts and prints its listening line', false, err.message);
    return;
  }

  const anon = await fetch(base + '/dashboard',
    { signal: AbortSignal.timeout(5000) });
  await anon.arrayBuffer();
  check('/dashboard without credentials answers 401 with a Basic challenge',
    anon.status === 401 &&
      /^Basic\b.*realm="maestra"/i.test(
        anon.headers.get('www-authenticate') || ''),
    `status ${anon.status}, WWW-Authenticate ` +
      `${anon.headers.get('www-authenticate')}`);

  const traffic = await driveTraffic(base);
  check('traffic: 9 chats answered 200 and 3 paths 404',
    traffic.ok === 9 && traffic.notFound === 3, JSON.stringify(traffic));

  // Wait for a history point taken after the last request, so the page's
  // first render already holds the final figures.
  const settled = await api(base, '/metrics');
  const total = settled.body && settled.body.total_requests;
  try {
    await waitFor('a history point after the traffic',
      HISTORY_TIMEOUT_MS, async () => {
        const res = await api(base, '/metrics/history');
        const pts = res.body && Array.isArray(res.body.points)
          ? res.body.points : [];
        const last = pts[pts.length - 1];
        return last && last.total_requests === total ? res.body : null;
      });
    check('history holds a point after the traffic', true);
  } catch (err) {
    check('history holds a point after the traffic', false, err.message);
  }

  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      timeout: PAGE_TIMEOUT_MS,
    });
  } catch (err) {
    check('chromium starts', false, err.message.split('\n')[0]);
    return;
  }
  const context = await browser.newContext({
    httpCredentials: { username: 'maestra', password: KEY },
    viewport: { width: 1280, height: 900 },
    colorScheme: 'light',
  });
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);

  const consoleErrors = [];
  const pageErrors = [];
  const strayRequests = [];
  const origin = new URL(base).origin;
  const allowed = new Set(['/dashboard', '/metrics', '/metrics/history']);
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('request', (req) => {
    const url = new URL(req.url());
    if (url.protocol === 'data:') return;
    if (url.origin !== origin || !allowed.has(url.pathname)) {
      strayRequests.push(req.url());
    }
  });

  const res = await page.goto(base + '/dashboard', { waitUntil: 'load' });
  check('/dashboard with Basic credentials answers 200 text/html',
    res.status() === 200 &&
      /^text\/html/.test(res.headers()['content-type'] || ''),
    `status ${res.status()}, ${res.headers()['content-type']}`);

  try {
    await page.waitForFunction(() => {
      const main = document.querySelector('main');
      return main && Number(main.getAttribute('data-refreshes')) >= 1;
    });
  } catch (err) {
    check('page completes its first refresh', false, err.message);
    return;
  }
  const firstStatus = await statusOf(page);
  check('status shows a live update', firstStatus.state === 'ok' &&
    /updated \d\d:\d\d:\d\d UTC/.test(firstStatus.text),
  JSON.stringify(firstStatus));

  // Figures against /metrics fetched now; traffic has stopped and the
  // dashboard's own fetches are not counted, so totals are stable.
  const metrics = (await api(base, '/metrics')).body;
  const figures = await figuresOnPage(page);
  const missing = FIGURES.filter((name) => !figures[name]);
  check('every key figure has a data-metric element', missing.length === 0,
    `missing ${missing.join(', ')}`);
  for (const name of STABLE) {
    if (!figures[name]) continue;
    const shown = figures[name].value;
    check(`figure ${name} equals /metrics`,
      shown !== '' && Number(shown) === metrics[name],
      `page ${shown}, /metrics ${metrics[name]}`);
  }
  check('total requests shown as text matches its value',
    figures.total_requests &&
      figures.total_requests.text.replace(/,/g, '') ===
        String(metrics.total_requests),
    figures.total_requests && figures.total_requests.text);

  // The error-rate card states its level in words, not colour alone.
  const errBadge = await page.$eval('#card-error-rate .badge',
    (el) => (el.hidden ? '' : el.textContent.replace(/^\W*/, '').trim()));
  const wantState = expectedErrorState(metrics.error_rate);
  check('error-rate card says its state in words',
    errBadge.endsWith(wantState), `badge "${errBadge}", want ${wantState}`);

  const charts = await chartsOnPage(page);
  for (const name of CHARTS) {
    const c = charts.find((x) => x.chart === name);
    check(`chart ${name} draws points and has a text description`,
      c && c.points > 0 && c.role === 'img' && c.name.length > 20,
      JSON.stringify(c));
  }

  const landmarks = await page.evaluate(() => ({
    banner: !!document.querySelector('header'),
    main: !!document.querySelector('main'),
    h1: document.querySelectorAll('h1').length,
    h2: document.querySelectorAll('h2').length,
  }));
  check('page has header and main landmarks and headings',
    landmarks.banner && landmarks.main && landmarks.h1 === 1 &&
      landmarks.h2 >= 3, JSON.stringify(landmarks));

  // An alert may arrive between the page's fetch and ours, so compare
  // until both have caught up (the page polls every few seconds).
  let alertView = null;
  try {
    alertView = await waitFor('the alert list to match the history', 8000,
      async () => {
        const h = (await api(base, '/metrics/history')).body;
        const alerts = h && Array.isArray(h.alerts) ? h.alerts : [];
        const items = await page.$$eval('#alerts > li', (els) =>
          els.map((el) => ({
            severity: el.getAttribute('data-severity'),
            text: el.textContent.replace(/\s+/g, ' ').trim(),
          })));
        const first = items[0] || {};
        const same = alerts.length
          ? first.severity === alerts[0].severity &&
            first.text.includes(alerts[0].title) &&
            items.length === Math.min(alerts.length, 20)
          : items.length === 1 && !first.severity;
        return same ? { alerts: alerts.length, items } : null;
      });
  } catch (err) {
    alertView = null;
  }
  check('alert list shows the history\'s alerts, newest first, with ' +
    'severities', alertView !== null,
  'page and /metrics/history disagree');

  // The page keeps polling without a reload.
  const before = await refreshesOf(page);
  try {
    await waitFor('another refresh', 8000,
      async () => (await refreshesOf(page)) > before);
    check('page refreshes by itself', true);
    const again = await statusOf(page);
    check('status still live after the refresh', again.state === 'ok',
      JSON.stringify(again));
  } catch (err) {
    check('page refreshes by itself', false, err.message);
  }

  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-light.png'),
    fullPage: true });

  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await page.evaluate(() => {
    const s = getComputedStyle(document.body);
    return { bg: s.backgroundColor, fg: s.color };
  });
  const bgLum = luminance(dark.bg);
  const fgLum = luminance(dark.fg);
  check('dark scheme: dark background, light text',
    bgLum !== null && fgLum !== null && bgLum < 0.05 && fgLum > 0.6,
    JSON.stringify(dark));
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dark.png'),
    fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });

  await page.setViewportSize({ width: 375, height: 812 });
  await sleep(400);
  const phone = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  check('375 px viewport has no horizontal scroll',
    phone.scroll <= phone.client, JSON.stringify(phone));
  const phoneCharts = await chartsOnPage(page);
  check('charts still drawn at phone width',
    phoneCharts.length === CHARTS.length &&
      phoneCharts.every((c) => c.points > 0), JSON.stringify(phoneCharts));
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'),
    fullPage: true });

  check('no console errors', consoleErrors.length === 0,
    consoleErrors.slice(0, 3).join(' | '));
  check('no page errors', pageErrors.length === 0,
    pageErrors.slice(0, 3).join(' | '));
  check('only same-origin /metrics and /metrics/history fetched',
    strayRequests.length === 0, strayRequests.slice(0, 3).join(', '));

  // Stop the server: it should exit cleanly, and the page should say the
  // server is gone while keeping the last figures on screen.
  const exited = new Promise((resolve) => server.once('exit',
    (code, sig) => resolve(code ?? sig)));
  server.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(12_000).then(() => null)]);
  check('server exits 0 on SIGTERM', code === 0, `exit ${code}`);
  killServer();
  try {
    const status = await waitFor('an error state', 12_000, async () => {
      const s = await statusOf(page);
      return s.state === 'error' ? s : null;
    });
    const kept = await figuresOnPage(page);
    check('stopped server shows a visible error and keeps the figures',
      status.text.length > 20 &&
        kept.total_requests.value === String(metrics.total_requests),
      status.text);
    const uptime = await page.$eval('#card-uptime .badge',
      (el) => el.textContent.trim());
    check('uptime card says Alert while the server does not answer',
      uptime.endsWith('Alert'), `badge "${uptime}"`);
  } catch (err) {
    check('stopped server shows a visible error', false, err.message);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
  await sleep(300);
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-error.png'),
    fullPage: false });
}

try {
  await run();
} catch (err) {
  check('test ran to the end', false, err.stack || String(err));
} finally {
  if (browser) await browser.close().catch(() => {});
  finish();
}
