// Opens a test page in headless Chromium and prints what the page reports
// as one line of JSON: {"ok": true, "result": ..., "logs": [...]}, or
// {"ok": false, "error": "...", "logs": [...]} and a non-zero exit status.
//
// Usage: node play.mjs <page-url> [timeout-ms]
//
// The page reports by setting window.testResult to a JSON-serialisable
// value; or, when $PLAY_RESULT is set, the page is polled with that
// JavaScript expression until it gives a value (for pages that know nothing
// of tests). $CHROMIUM_ARGS adds switches to Chromium's command line, one
// per line. Chromium is Debian's (/usr/bin/chromium, or $CHROMIUM), launched
// with a fresh profile that is removed afterwards; playwright-core drives it
// and downloads nothing.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: node play.mjs <page-url> [timeout-ms]');
  process.exit(2);
}
const timeout = Number(timeoutArg || 60000);
const profile = mkdtempSync(join(tmpdir(), 'flvedge-chromium-'));
const logs = [];
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required', '--mute-audio',
      ...(process.env.CHROMIUM_ARGS || '').split('\n').filter(Boolean),
    ],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.goto(url);
  const probe = process.env.PLAY_RESULT
    ? (expr) => (0, eval)(expr) // the test's own expression, in the page
    : () => window.testResult;
  const handle = await page.waitForFunction(probe, process.env.PLAY_RESULT, { timeout, polling: 100 });
  const result = await handle.jsonValue();
  console.log(JSON.stringify({ ok: true, result, logs }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: String(e), logs }));
  process.exitCode = 1;
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
