// The todo page's "Log in with your identity provider" in headless
// Chromium: the button (shown because the todo has the OpenID Connect login
// configured), the provider's own login and consent pages (oidc-provider's
// devInteractions), back on /app with a browser session for the provider's
// user, a todo added, logged out.
//
//   TODO_URL     the running todo, e.g. http://127.0.0.1:3000 (required)
//   OIDC_ISSUER  the provider the todo is configured with (required)
//   OIDC_USER    the login name at the provider (default grace)
//
// Run by tests/tests/todo_oidc_browser.rs; by hand (after starting the
// provider and the todo with OIDC_* set):
//   TODO_URL=http://127.0.0.1:3000 OIDC_ISSUER=http://127.0.0.1:3001 node .ci/browser/oidc.mjs

import { newContext, run } from './harness.mjs';

const base = process.env.TODO_URL;
const issuer = process.env.OIDC_ISSUER;
if (!base) throw new Error('TODO_URL is not set');
if (!issuer) throw new Error('OIDC_ISSUER is not set');
const appUrl = new URL('/app', base).href;
const user = process.env.OIDC_USER || 'grace';

async function ready(page) {
  await page.waitForSelector('body[data-ready="true"]');
}

async function sessionCookie(context) {
  return (await context.cookies(base)).find((c) => c.name === '__Host-session');
}

await run(async (t) => {
  const context = await newContext(t.browser);
  const page = await context.newPage();

  // The page offers the provider next to the password login.
  await page.goto(appUrl);
  await ready(page);
  t.ok(await page.isVisible('#login-form'), 'signed out: the password login shows');
  t.ok(await page.isVisible('#oidc-login'), 'the "Log in with your identity provider" button shows (GET /auth/oidc answers)');
  t.equal((await page.textContent('#oidc-login')).trim(), 'Log in with your identity provider', 'the button says what it does');

  // Off to the provider: its login form.
  await page.click('#oidc-login');
  await page.waitForURL((url) => url.href.startsWith(issuer + '/interaction/'));
  t.ok(true, 'the button leads to the provider\'s login page');
  await page.fill('input[name="login"]', user);
  await page.fill('input[name="password"]', 'any password the development provider accepts');
  await page.click('button[type="submit"]');

  // Its consent page, then back to the todo.
  await page.waitForURL((url) => url.href.startsWith(issuer + '/interaction/') || url.href.startsWith(appUrl));
  let consented = false;
  if (page.url().startsWith(issuer)) {
    await page.waitForSelector('button[type="submit"]');
    t.ok((await page.content()).includes('todo-web'), 'the provider\'s consent page names the client');
    await page.click('button[type="submit"]');
    consented = true;
  }
  t.ok(consented, 'the consent page was shown and accepted');
  await page.waitForURL((url) => url.href === appUrl);
  t.ok(true, 'the callback ends back on /app (303), not in JSON');
  await ready(page);

  // Logged in with a browser session for the provider's user.
  t.ok(await page.isVisible('#signed-in'), 'signed in after the provider\'s login');
  t.equal(await page.textContent('#user-email'), `${user}@example.test`, 'the page shows the provider\'s verified e-mail');
  const cookie = await sessionCookie(context);
  t.ok(cookie, 'the callback set the __Host-session cookie');
  t.ok(cookie.httpOnly && cookie.secure && cookie.sameSite === 'Lax', 'the session cookie is HttpOnly, Secure, SameSite=Lax');
  const session = await page.evaluate(async () => {
    const r = await fetch('/session', { headers: { 'No-Auth-Challenge': 'true' } });
    return { status: r.status, body: await r.json() };
  });
  t.equal(session.status, 200, 'GET /session answers 200 after the provider login');
  t.equal(session.body.user.id, `oidc:${user}`, 'the session is for oidc:{sub}');

  // The session works for the todo routes (with the CSRF token).
  await page.fill('#new-title', 'added after the identity provider login');
  await page.click('#add-form button[type=submit]');
  await page.waitForSelector('#todos li .title:has-text("added after the identity provider login")');
  t.ok(true, 'adding a todo works with the session');
  await page.reload();
  await ready(page);
  t.equal(await page.$$eval('#todos li .title', (n) => n.map((x) => x.textContent)),
    ['added after the identity provider login'], 'after a reload the todo is still listed');

  // A destination other than the page is refused before the provider.
  const refused = await context.request.get(new URL('/auth/oidc/login?return_to=https://evil.test/', base).href, { maxRedirects: 0 });
  t.equal(refused.status(), 400, 'a login with another return_to is refused with 400');

  // Log out.
  await page.click('#logout');
  await page.waitForSelector('#signed-out:not([hidden])');
  t.ok(await page.isVisible('#oidc-login'), 'logged out: the login choices show again');
  t.ok(!(await sessionCookie(context)), 'logged out: no session cookie left');
  const after = await page.evaluate(async () => (await fetch('/todos', { headers: { 'No-Auth-Challenge': 'true' } })).status);
  t.equal(after, 401, 'logged out: the todos answer 401');
});
