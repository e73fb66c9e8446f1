// keycloak-js in headless Chromium (Debian's, driven by playwright-core) against the running
// platform: seeds a realm, two public apps and a user through the admin API, then signs in on
// the hosted page, calls userinfo, signs a second app in by SSO, and logs out.
// Usage: node e2e.mjs IDP_URL PAGE_URL PROFILE_DIR (the bootstrap admin in the environment).
import { chromium } from 'playwright-core';

const [idp, pageUrl, profileDir] = process.argv.slice(2);
const realm = 'e2e';
const user = { username: 'alice', password: 'Alice-e2e-pass-1' };
const results = [];

function check(name, condition, detail = '') {
  results.push({ name, ok: Boolean(condition), detail });
}

async function api(method, path, token, body) {
  const reply = await fetch(`${idp}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${await reply.text()}`);
}

async function seed() {
  const form = new URLSearchParams({
    grant_type: 'password', client_id: 'admin-cli',
    username: process.env.IDP_BOOTSTRAP_ADMIN_USERNAME, password: process.env.IDP_BOOTSTRAP_ADMIN_PASSWORD,
  });
  const reply = await fetch(`${idp}/realms/master/protocol/openid-connect/token`, { method: 'POST', body: form });
  const { access_token: token } = await reply.json();
  const origin = new URL(pageUrl).origin;
  await api('POST', '/admin/realms', token, { realm, enabled: true, displayName: 'E2E Bank' });
  for (const clientId of ['e2e-spa', 'e2e-portal']) {
    await api('POST', `/admin/realms/${realm}/clients`, token, {
      clientId, publicClient: true, redirectUris: [`${origin}/*`], webOrigins: [origin],
    });
  }
  await api('POST', `/admin/realms/${realm}/users`, token, {
    username: user.username, enabled: true, email: 'alice@e2e.example', firstName: 'Alice',
    credentials: [{ type: 'password', value: user.password, temporary: false }],
  });
}

async function appResult(page) {
  await page.waitForFunction(() => window.appResult !== undefined, null, { timeout: 20000 });
  return page.evaluate(() => window.appResult);
}

async function ssoCookie(context) {
  const cookies = await context.cookies(`${idp}/realms/${realm}/`);
  return cookies.find((c) => c.name === 'KEYCLOAK_IDENTITY');
}

await seed();
const context = await chromium.launchPersistentContext(profileDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const problems = [];
context.on('console', (message) => {
  if (/Content.Security.Policy|Refused to/i.test(message.text())) problems.push(message.text());
});
try {
  const page = await context.newPage();
  page.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });

  // The app sends the browser to the hosted login page.
  await page.goto(`${pageUrl}/index.html`);
  await page.waitForURL((url) => url.href.startsWith(`${idp}/realms/${realm}/protocol/openid-connect/auth`), { timeout: 20000 });
  check('the login page is the tenant\'s', (await page.title()).includes('E2E Bank'), await page.title());
  await page.getByLabel('Username or email').fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor({ timeout: 10000 });
  check('a wrong password shows one message', (await alert.textContent()).includes('Invalid username or password.'));

  await page.getByLabel('Password', { exact: true }).fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const first = await appResult(page);
  check('keycloak-js signs in', first.authenticated === true, JSON.stringify(first));
  check('userinfo answers', first.userinfo && first.userinfo.preferred_username === user.username, JSON.stringify(first));
  check('the ID token is the app\'s', first.idTokenAud === 'e2e-spa', JSON.stringify(first));
  const cookie = await ssoCookie(context);
  check('the SSO cookie is HttpOnly and Lax', cookie && cookie.httpOnly && cookie.sameSite === 'Lax', JSON.stringify(cookie));

  // A second app signs in by the same sign-in, without the form.
  const second = await context.newPage();
  second.on('console', (message) => {
    if (/Content.Security.Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  const sawForm = [];
  second.on('response', (response) => {
    if (response.url().includes('/protocol/openid-connect/auth') && response.status() === 200) sawForm.push(response.url());
  });
  await second.goto(`${pageUrl}/index.html?client=e2e-portal`);
  const portal = await appResult(second);
  check('a second app signs in by SSO', portal.authenticated === true && portal.idTokenAud === 'e2e-portal', JSON.stringify(portal));
  check('without the password form', sawForm.length === 0, sawForm.join(' '));
  check('as the same user', portal.subject === first.subject, `${portal.subject} vs ${first.subject}`);
  await second.close();

  // Logout ends the sign-in: the cookie is gone and the app lands on the login form again.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL((url) => url.href.startsWith(`${idp}/realms/${realm}/protocol/openid-connect/auth`), { timeout: 20000 });
  check('after logout the app needs the form again', await page.getByLabel('Username or email').isVisible());
  check('the SSO cookie is gone', (await ssoCookie(context)) === undefined, JSON.stringify(await ssoCookie(context)));
} catch (error) {
  check('the run finished', false, String(error && error.stack || error));
} finally {
  await context.close();
}
check('no Content-Security-Policy refusals', problems.length === 0, problems.join('\n'));

for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.ok ? '' : `: ${r.detail}`}`);
const failed = results.filter((r) => !r.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
