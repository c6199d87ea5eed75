// The todo example's web page in headless Chromium: sign up, log in, add,
// complete and delete todos, reload, log out; the session cookie's flags as
// the browser stores them; forged requests from another origin refused.
//
//   TODO_URL    the running todo, e.g. http://127.0.0.1:3000 (required)
//   SCREENSHOT  where to write a PNG of the page with todos (optional)
//   TODO_EMAIL  the account to sign up (default ada@example.com: a fresh server)
//
// Run by tests/tests/todo_browser.rs; by hand:
//   TODO_URL=http://127.0.0.1:3000 node .ci/browser/todo.mjs

import { newContext, run, serveHtml } from './harness.mjs';

const base = process.env.TODO_URL;
if (!base) throw new Error('TODO_URL is not set');
const appUrl = new URL('/app', base).href;
const appOrigin = new URL(base).origin;
const email = process.env.TODO_EMAIL || 'ada@example.com';
const password = 'correct horse 42';

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]');
}

async function titles(page) {
  return page.$$eval('#todos li .title', (nodes) => nodes.map((n) => n.textContent));
}

// The status of the response the browser got for the first request
// matching `predicate` while `action` runs.
async function responseTo(page, predicate, action) {
  const [response] = await Promise.all([page.waitForResponse(predicate), action()]);
  return response;
}

await run(async (t) => {
  const context = await newContext(t.browser);
  const page = await context.newPage();
  const foreignRequests = [];
  context.on('request', (req) => {
    const origin = new URL(req.url()).origin;
    if (origin !== appOrigin && !req.url().startsWith('http://127.0.0.1:') && !req.url().startsWith('http://evil.test:')) {
      foreignRequests.push(req.url());
    }
  });

  // The page and its headers.
  const loaded = await page.goto(appUrl);
  t.equal(loaded.status(), 200, 'GET /app answers the page');
  const csp = loaded.headers()['content-security-policy'] || '';
  t.ok(csp.includes("default-src 'none'") && csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"),
    'the page carries a strict Content-Security-Policy');
  await ready(page);
  t.ok(await page.isVisible('#login-form') && await page.isVisible('#signup-form'), 'signed out: the login and sign-up forms show');

  // Sign up.
  await page.fill('#signup-email', email);
  await page.fill('#signup-password', password);
  await page.click('#signup-form button[type=submit]');
  await page.waitForSelector('#status:has-text("Account created")');
  t.ok(true, 'sign-up creates the account');

  // Log in (the e-mail was filled in by the sign-up).
  t.equal(await page.inputValue('#login-email'), email, 'the login form has the new e-mail');
  await page.fill('#login-password', password);
  const login = await responseTo(page, (r) => r.url().endsWith('/session/login'), () => page.click('#login-form button[type=submit]'));
  t.equal(login.status(), 200, 'POST /session/login answers 200');
  t.equal(await login.request().headerValue('no-auth-challenge'), 'true', 'the page sends No-Auth-Challenge: true');
  await page.waitForSelector('#whoami:not([hidden])');
  t.equal(await page.textContent('#user-email'), email, 'the page shows who is signed in');

  // The cookie, as the browser keeps it.
  const cookies = await context.cookies(appOrigin);
  const session = cookies.find((c) => c.name.endsWith('session'));
  t.ok(session !== undefined, 'the browser holds a session cookie');
  t.equal(session.name, '__Host-session', 'the cookie carries the __Host- prefix');
  t.equal(session.httpOnly, true, 'the cookie is HttpOnly');
  t.equal(session.secure, true, 'the cookie is Secure (kept by Chromium over http://127.0.0.1, a secure context)');
  t.equal(session.sameSite, 'Lax', 'the cookie is SameSite=Lax');
  t.equal(session.path, '/', 'the cookie has Path=/');
  t.equal(session.domain, '127.0.0.1', 'the cookie is host-only (no Domain)');
  t.ok(!(await page.evaluate(() => document.cookie)).includes('session'), "the page's script cannot read the cookie");

  // Add, complete, delete.
  for (const title of ['Buy milk', 'Write the docs', 'Water the plants']) {
    await page.fill('#new-title', title);
    const added = await responseTo(page, (r) => r.url().endsWith('/todos') && r.request().method() === 'POST', () => page.click('#add-form button[type=submit]'));
    t.equal(added.status(), 200, `adding "${title}" answers 200`);
    t.ok(await added.request().headerValue('x-csrf-token') !== null, `adding "${title}" sends the CSRF token`);
    await page.waitForSelector(`#todos li .title:text-is("${title}")`);
  }
  t.equal(await titles(page), ['Buy milk', 'Write the docs', 'Water the plants'], 'the list shows the three todos');
  const milk = page.locator('#todos li', { hasText: 'Buy milk' });
  await milk.locator('button.complete').click();
  await page.waitForSelector('#todos li.done .title:text-is("Buy milk")');
  t.ok(true, 'completing a todo marks it done');
  await page.locator('#todos li', { hasText: 'Write the docs' }).locator('button.delete').click();
  await page.waitForFunction(() => ![...document.querySelectorAll('#todos li .title')].some((n) => n.textContent === 'Write the docs'));
  t.equal(await titles(page), ['Buy milk', 'Water the plants'], 'deleting a todo removes it');

  // A reload keeps the session (GET /session hands the CSRF token back).
  await page.reload();
  await ready(page);
  t.ok(await page.isVisible('#whoami'), 'after a reload the user is still signed in');
  t.equal(await titles(page), ['Buy milk', 'Water the plants'], 'after a reload the list is the same');

  if (process.env.SCREENSHOT) {
    await page.setViewportSize({ width: 800, height: 600 });
    await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    console.log(`# screenshot written to ${process.env.SCREENSHOT}`);
  }

  // Forged requests from other origins, while the victim is signed in.
  const attackerHtml = '<!doctype html><title>elsewhere</title><p>another origin</p>';
  const attacker = await serveHtml(attackerHtml);
  try {
    // Same site, other origin (another port of 127.0.0.1): SameSite lets
    // the cookie through, so the server's own check must refuse it.
    const evil = await context.newPage();
    await evil.goto(`http://127.0.0.1:${attacker.port}/`);
    const target = new URL('/todos', base).href;
    const formPost = await responseTo(evil, (r) => r.url() === target, () => evil.evaluate((action) => {
      const form = document.createElement('form');
      form.method = 'POST';
      form.action = action;
      form.enctype = 'text/plain';
      const input = document.createElement('input');
      input.name = '{"title":"forged by a form","x":"';
      input.value = '"}';
      form.append(input);
      document.body.append(form);
      form.submit();
    }, target));
    t.equal(formPost.status(), 403, 'a form POST from another origin of the same site is refused with 403');
    t.equal(await formPost.request().headerValue('sec-fetch-site'), 'same-site', 'the browser marked it Sec-Fetch-Site: same-site');
    t.ok((await formPost.request().headerValue('cookie') || '').includes('__Host-session='), 'the browser did send the session cookie with it');
    const formBody = await formPost.json();
    t.equal(formBody.error.code, 'CROSS_SITE_REQUEST', 'the refusal is the JSON error CROSS_SITE_REQUEST');

    await evil.goto(`http://127.0.0.1:${attacker.port}/`);
    const fetchPost = await responseTo(evil, (r) => r.url() === target, () => evil.evaluate((url) => fetch(url, {
      method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'Content-Type': 'text/plain' }, body: '{"title":"forged by fetch"}',
    }).catch(() => null), target));
    t.equal(fetchPost.status(), 403, 'a no-cors fetch POST from another origin is refused with 403');

    // Cross site (another host name): SameSite=Lax withholds the cookie.
    await evil.goto(`http://evil.test:${attacker.port}/`);
    const crossPost = await responseTo(evil, (r) => r.url() === target, () => evil.evaluate((url) => fetch(url, {
      method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'Content-Type': 'text/plain' }, body: '{"title":"forged cross-site"}',
    }).catch(() => null), target));
    // Chromium sends no fetch metadata from a page that is not a secure
    // context (plain http on a name other than localhost), and DevTools
    // keeps no body of an opaque response: the status says what the server
    // saw. With the cookie it would be 403 (no CSRF token); 401 means no
    // cookie came: SameSite=Lax withheld it.
    t.equal(crossPost.status(), 401, 'a cross-site POST (from evil.test) gets 401: SameSite=Lax withheld the cookie');
    await evil.close();
  } finally {
    await attacker.close();
  }
  await page.reload();
  await ready(page);
  t.equal(await titles(page), ['Buy milk', 'Water the plants'], 'no forged todo was created');

  // Log out: the cookie goes, and a copy of it is dead on the server.
  const logout = await responseTo(page, (r) => r.url().endsWith('/session/logout'), () => page.click('#logout'));
  t.equal(logout.status(), 204, 'POST /session/logout answers 204');
  await page.waitForSelector('#login-form', { state: 'visible' });
  t.ok(!(await context.cookies(appOrigin)).some((c) => c.name === '__Host-session'), 'after logout the browser holds no session cookie');
  await context.addCookies([{ ...session }]);
  const replay = await page.evaluate(async () => {
    const r = await fetch('/todos', { headers: { 'No-Auth-Challenge': 'true' } });
    return { status: r.status, challenge: r.headers.get('www-authenticate'), body: await r.json() };
  });
  t.equal(replay.status, 401, 'the old session cookie, put back, is refused with 401');
  t.ok(!/basic/i.test(replay.challenge || ''), 'the 401 carries no Basic challenge (no pop-up)');
  t.equal(foreignRequests, [], 'the page fetched nothing from anywhere else');
  await context.close();
}, { hostMap: ['evil.test'] });
