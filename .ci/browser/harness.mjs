// A small harness for the workspace's browser tests: playwright-core (pinned
// in package-lock.json) driving the system's Chromium (Debian's `chromium`,
// installed by .ci/services.sh's install_browser), never a downloaded build.
//
// A test script imports it, calls `run(async (t) => { ... })`, and reports
// each check with `t.ok(condition, description)`; the Rust side
// (tests/tests/common/browser.rs) runs the script with node, fails on a
// non-zero exit and checks the `ok - ...` lines it expects.
//
//   BROWSER_EXECUTABLE  the Chromium binary (default: /usr/bin/chromium)
//   BROWSER_TIMEOUT_MS  per-action timeout (default 15000)

import http from 'node:http';
import { chromium } from 'playwright-core';

const executablePath = process.env.BROWSER_EXECUTABLE || '/usr/bin/chromium';
const timeout = Number(process.env.BROWSER_TIMEOUT_MS || 15000);

export class CheckFailed extends Error {}

// Launches headless Chromium. `hostMap` maps extra host names to 127.0.0.1
// (e.g. `evil.test` for a cross-site origin without DNS).
export async function launch({ hostMap = [] } = {}) {
  const args = [
    // CI runs as root, where Chromium's sandbox cannot start.
    '--no-sandbox',
    '--disable-dev-shm-usage',
    '--disable-gpu',
  ];
  if (hostMap.length) {
    args.push('--host-resolver-rules=' + hostMap.map((h) => `MAP ${h} 127.0.0.1`).join(', '));
  }
  return chromium.launch({ executablePath, headless: true, args, timeout: 60000 });
}

// A fresh context whose every page has the harness's timeout.
export async function newContext(browser, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(timeout);
  return context;
}

// Serves `html` at `/` of a plain-HTTP server on 127.0.0.1 (a free port):
// a page of another origin. Returns { port, close }.
export async function serveHtml(html) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// Runs `body(t)` with a launched browser at `t.browser`; prints `ok - ...`
// per passed check, `not ok - ...` and exits 1 on the first failure or
// error. Always closes the browser.
export async function run(body, { hostMap = [] } = {}) {
  let browser;
  let passed = 0;
  const t = {
    ok(condition, description) {
      if (!condition) throw new CheckFailed(description);
      passed += 1;
      console.log(`ok - ${description}`);
    },
    equal(actual, expected, description) {
      const a = JSON.stringify(actual);
      const e = JSON.stringify(expected);
      if (a !== e) throw new CheckFailed(`${description}: expected ${e}, got ${a}`);
      passed += 1;
      console.log(`ok - ${description}`);
    },
  };
  try {
    browser = await launch({ hostMap });
    t.browser = browser;
    console.log(`# chromium ${browser.version()}`);
    await body(t);
    console.log(`# ${passed} checks passed`);
  } catch (e) {
    console.log(`not ok - ${e instanceof CheckFailed ? e.message : e.stack || e}`);
    process.exitCode = 1;
  } finally {
    if (browser) await browser.close();
  }
}
