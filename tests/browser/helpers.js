// Shared pieces of the browser tests: the dev server, Chromium, axe, screenshots, page weight.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARTIFACTS = join(REPO, 'artifacts');
export const SCREENSHOTS = join(ARTIFACTS, 'screenshots');
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// ---- the dev server ------------------------------------------------------------------------

/** Starts `kenpo dev` on an ephemeral port with a fresh outbox; resolves once its banner names the port. */
export async function startServer() {
  const bin = process.env.KENPO_BIN || join(REPO, 'target', 'debug', 'kenpo');
  if (!existsSync(bin)) throw new Error(`kenpo binary not found at ${bin}: run \`cargo build --bin kenpo\` or set KENPO_BIN`);
  const outbox = mkdtempSync(join(tmpdir(), 'kenpo-outbox-'));
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'warn' };
  delete env.ALLOWED_ORIGINS; // the dev server then allows its own origin
  const child = spawn(bin, ['dev', '--port', '0', '--outbox', outbox], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  // Its log lines go to KENPO_LOG_DIR too, where the test script scans them for personal data.
  const logFile = process.env.KENPO_LOG_DIR ? join(process.env.KENPO_LOG_DIR, `browser-${process.pid}-${Date.now()}.log`) : null;
  child.stderr.on('data', (d) => {
    stderr = (stderr + d).slice(-4000);
    if (logFile) appendFileSync(logFile, d);
  });
  const base = await new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`kenpo dev printed no banner in 20 s\n${out}\n${stderr}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = /kenpo dev: (http:\/\/[^/\s]+)\//.exec(out);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); fail(new Error(`kenpo dev exited with ${code}\n${out}\n${stderr}`)); });
  });
  child.stdout.resume();
  return {
    base,
    outbox,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(outbox, { recursive: true, force: true });
    },
  };
}

// ---- Chromium ------------------------------------------------------------------------------

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A fresh context (its own cookies and cache) and page at a phone's size. Collects console errors. */
export async function phone(browser, { width = 390, height = 844 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'ja-JP', timezoneId: 'Asia/Tokyo' });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return { context, page, problems };
}

// ---- checks of one screen -------------------------------------------------------------------

export const axeReport = [];

/** axe-core in the page's main world (CDP evaluate is not subject to the page's CSP). */
export async function runAxe(page, name) {
  const has = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!has) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(() => window.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    resultTypes: ['violations'],
  }));
  const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
  axeReport.push({ screen: name, url: new URL(page.url()).pathname, violations });
  return violations;
}

/** Screenshot, axe (no serious/critical violation), no sideways scrolling at this width. */
export async function checkScreen(t, assert, page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const violations = await runAxe(page, name);
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${name}: axe found serious/critical violations`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow}px`);
}

// ---- page weight ---------------------------------------------------------------------------

/**
 * Bytes transferred per document (a screen and every request its script makes), from the DevTools
 * protocol's encodedDataLength (headers and body as received; 0 for the browser cache).
 */
export async function weighPages(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const docs = new Map(); // loaderId -> { url, bytes, requests }
  const loaderOf = new Map(); // requestId -> loaderId
  const doc = (loaderId) => {
    if (!docs.has(loaderId)) docs.set(loaderId, { url: '', bytes: 0, requests: 0 });
    return docs.get(loaderId);
  };
  cdp.on('Network.requestWillBeSent', (e) => {
    loaderOf.set(e.requestId, e.loaderId);
    const d = doc(e.loaderId);
    if (e.redirectResponse) d.bytes += e.redirectResponse.encodedDataLength || 0;
    else d.requests += 1;
    if (e.type === 'Document') d.url = e.request.url;
  });
  cdp.on('Network.responseReceived', (e) => {
    if (e.type === 'Document') doc(loaderOf.get(e.requestId) ?? e.loaderId).url = e.response.url;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const loader = loaderOf.get(e.requestId);
    if (loader !== undefined) doc(loader).bytes += e.encodedDataLength;
  });
  return () => [...docs.values()].filter((d) => d.url).map((d) => ({ screen: new URL(d.url).pathname, bytes: d.bytes, requests: d.requests }));
}

// ---- the outbox ----------------------------------------------------------------------------

/** RFC 2047 encoded words (adjacent words of one charset are joined before decoding). */
export function decodeHeader(value) {
  const tokens = value.split(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)/).filter((t) => t !== '');
  let out = '';
  let pending = null; // { charset, bytes: Buffer[] }
  const flush = () => {
    if (pending) out += new TextDecoder(pending.charset).decode(Buffer.concat(pending.bytes));
    pending = null;
  };
  for (const token of tokens) {
    const m = /^=\?([^?]+)\?([BbQq])\?([^?]*)\?=$/.exec(token);
    if (!m) {
      if (pending && /^\s+$/.test(token)) continue; // whitespace between encoded words is not text
      flush();
      out += token;
      continue;
    }
    const [, charset, enc, text] = m;
    const bytes = enc.toUpperCase() === 'B'
      ? Buffer.from(text, 'base64')
      : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    if (pending && pending.charset.toLowerCase() !== charset.toLowerCase()) flush();
    pending = pending || { charset, bytes: [] };
    pending.bytes.push(bytes);
  }
  flush();
  return out;
}

/** The decoded subjects and recipients of the mails in the outbox folder. */
export function outboxMails(dir) {
  return readdirSync(dir).filter((n) => n.endsWith('.eml')).map((name) => {
    const text = readFileSync(join(dir, name), 'utf8');
    const head = text.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
    const header = (h) => {
      const line = head.split(/\r?\n/).find((l) => l.toLowerCase().startsWith(`${h}:`));
      return line ? decodeHeader(line.slice(h.length + 1).trim()) : '';
    };
    return { name, subject: header('subject'), to: header('to'), listUnsubscribe: header('list-unsubscribe'), listUnsubscribePost: header('list-unsubscribe-post') };
  });
}

export async function waitFor(check, { timeout = 10000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) return value;
    await new Promise((r) => setTimeout(r, interval));
  }
}
