// Loads the real portal in headless Chromium and checks what a visitor sees:
// branding, theme variables, demo content, footer links and white-labelling.
// Builds nothing: it runs target/release/portico (or $PORTICO_BIN) and
// Debian's /usr/bin/chromium (or $CHROMIUM). Run: node --test tests/browser/
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import http from 'node:http';
import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const bin = process.env.PORTICO_BIN || path.join(root, 'target/release/portico');
const screenshots = path.join(here, 'screenshots');
const updateReadmeScreenshot = process.env.UPDATE_SCREENSHOT === '1';

// Fails a start that never reports instead of hanging the suite; not a synchronisation delay.
const START_TIMEOUT_MS = 60_000;

const ACME = {
  name: 'Acme Developer Hub',
  primary: '#0b6e4f',
  accent: '#f2a541',
  background: '#f8f7f4',
  text: '#1c2321',
  links: [
    { label: 'Terms of use', url: 'https://acme.example/terms' },
    { label: 'Status', url: 'https://status.acme.example/' },
    { label: 'Contact', url: 'mailto:developers@acme.example' },
  ],
};

const ACME_LOGO =
  'data:image/svg+xml,' +
  encodeURIComponent(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">` +
      `<rect width="64" height="64" rx="14" fill="${ACME.accent}"/>` +
      `<path d="M32 12 50 52H41.5L38 43H26l-3.5 9H14L32 12Zm0 15.5L28.4 37h7.2L32 27.5Z" fill="${ACME.primary}"/>` +
      `</svg>`,
  );

/** The demo's API titles: four from its files, and the portal's own API, found by its gateway under the portal's name. */
const demoTitles = (portalName) => ['Petstore', 'Payments', 'Weather', 'Orders (v1)', `${portalName} API`];

/** The admin every test portal has (`portico user add`), for the pages that need a role. */
const ADMIN = { username: 'admin', password: 'browser-test-password' };

/** A TOML string; JSON's escapes are a subset of TOML's basic strings. */
const str = (value) => JSON.stringify(value);

function acmeConfig() {
  const links = ACME.links
    .map((l) => `[[branding.footer_links]]\nlabel = ${str(l.label)}\nurl = ${str(l.url)}\n`)
    .join('\n');
  return `[branding]
name = ${str(ACME.name)}
logo_url = ${str(ACME_LOGO)}
primary_color = ${str(ACME.primary)}
accent_color = ${str(ACME.accent)}
background_color = ${str(ACME.background)}
text_color = ${str(ACME.text)}
font_family = "'Inter', 'Liberation Sans', system-ui, sans-serif"
custom_css = ${str('.card { border-radius: 6px; }')}

${links}`;
}

/**
 * Starts `portico serve --demo` on a free port with `config` (TOML text, or
 * none), and resolves once it prints its `listening on` line.
 */
async function startPortal(config) {
  const dir = await mkdtemp(path.join(tmpdir(), 'portal-browser-'));
  const dataDir = path.join(dir, 'data');
  await mkdir(dataDir);
  const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, '--demo'];
  if (config !== undefined) {
    const file = path.join(dir, 'portal.toml');
    await writeFile(file, config);
    args.push('--config', file);
  }
  // The caller's PORTICO_* variables would override what this test sets.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('PORTICO_')),
  );
  await promisify(execFile)(
    bin,
    ['user', 'add', ADMIN.username, '--role', 'admin', '--data-dir', dataDir],
    { cwd: dir, env: { ...env, PORTICO_PASSWORD: ADMIN.password } },
  );
  // cwd is the temp dir so a ./portico.toml in the caller's directory is never read.
  const child = spawn(bin, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-8_000);
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "listening on" line within ${START_TIMEOUT_MS} ms\n${stderr}`)),
        START_TIMEOUT_MS,
      );
      const done = (fn, value) => {
        clearTimeout(timer);
        fn(value);
      };
      createInterface({ input: child.stdout }).on('line', (line) => {
        const match = /^listening on (http:\/\/\S+)$/.exec(line.trim());
        if (match) done(resolve, match[1]);
      });
      child.on('error', (error) => done(reject, error));
      child.on('exit', (code, signal) =>
        done(reject, new Error(`portal exited (${code ?? signal}) before listening\n${stderr}`)),
      );
    });
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Headless Chromium with a fresh profile; nothing downloaded. */
async function launchBrowser() {
  const profile = await mkdtemp(path.join(tmpdir(), 'portal-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
    deviceScaleFactor: 1,
  });
  const close = async () => {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** Opens `url` and records console errors (a CSP violation shows up there). */
async function open(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(String(error)));
  const response = await page.goto(url, { waitUntil: 'load' });
  assert.equal(response.status(), 200, `GET ${url}`);
  return { page, errors };
}

function hexToRgb(hex) {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
}

async function assertNoPortico(page) {
  const html = await page.evaluate(() => document.documentElement.outerHTML);
  const at = html.toLowerCase().indexOf('portico');
  assert.equal(at, -1, `"Portico" appears at ${at}: …${html.slice(Math.max(0, at - 80), at + 80)}…`);
}

async function screenshot(page, name) {
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: path.join(screenshots, name), fullPage: true });
}

before(async () => {
  await access(bin).catch(() => {
    throw new Error(`${bin} not found: run \`cargo build --release -p portico\` or set PORTICO_BIN`);
  });
});

describe('a white-label portal (Acme Developer Hub)', () => {
  let portal;
  let browser;

  before(async () => {
    portal = await startPortal(acmeConfig());
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
  });

  test('home page carries the branding, the theme and the demo APIs, and never names Portico', async () => {
    const { page, errors } = await open(browser.context, `${portal.url}/`);

    assert.equal(await page.title(), `Home – ${ACME.name}`);
    const header = page.locator('header.site-header');
    assert.match(await header.innerText(), new RegExp(ACME.name));

    const primary = await page.evaluate(() =>
      getComputedStyle(document.documentElement).getPropertyValue('--color-primary').trim(),
    );
    assert.equal(primary, ACME.primary);
    const headerBackground = await header.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(headerBackground, hexToRgb(ACME.primary));
    const bodyBackground = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bodyBackground, hexToRgb(ACME.background));

    const logo = page.locator('header .brand img');
    assert.equal(await logo.getAttribute('src'), ACME_LOGO);
    assert.ok(
      await logo.evaluate((img) => img.complete && img.naturalWidth > 0),
      'the data: logo loads',
    );

    const titles = await page.locator('.card h3').allInnerTexts();
    assert.deepEqual([...titles].sort(), demoTitles(ACME.name).sort());
    assert.equal(await page.locator('.card .badge', { hasText: 'Deprecated' }).count(), 1);

    // The operator's CSS comes last, so it wins over the stylesheet.
    const radius = await page.locator('.card').first().evaluate((el) => getComputedStyle(el).borderRadius);
    assert.equal(radius, '6px');

    const footer = page.locator('footer.site-footer');
    for (const link of ACME.links) {
      assert.equal(await footer.getByRole('link', { name: link.label }).getAttribute('href'), link.url);
    }
    assert.equal(await footer.getByText('Powered by').count(), 0);

    assert.equal(await page.evaluate(() => document.scripts.length), 0, 'pages need no JavaScript');
    await assertNoPortico(page);
    assert.deepEqual(errors, [], 'no console errors (CSP violations, failed loads)');

    await screenshot(page, 'home.png');
    if (updateReadmeScreenshot) {
      await page.screenshot({ path: path.join(root, 'docs/screenshot.png'), fullPage: true });
    }
    await page.close();
  });

  test('search without JavaScript narrows the list', async () => {
    const { page } = await open(browser.context, `${portal.url}/`);
    await page.getByRole('searchbox', { name: 'Search APIs' }).fill('payments');
    await Promise.all([page.waitForURL(/\?q=payments/), page.getByRole('button', { name: 'Search' }).click()]);
    const titles = await page.locator('.card h3').allInnerTexts();
    assert.deepEqual([...titles].sort(), ['Orders (v1)', 'Payments']);
    await page.close();
  });

  test('plugins page is branded and lists what is installed', async () => {
    // The plugins page needs a role: the visitor lands on the branded sign-in page first.
    const { page, errors } = await open(browser.context, `${portal.url}/plugins`);
    assert.equal(await page.title(), `Sign in – ${ACME.name}`);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await Promise.all([
      page.waitForURL(`${portal.url}/plugins`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    assert.equal(await page.title(), `Plugins – ${ACME.name}`);
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Plugins');
    assert.equal(
      await page.locator('nav[aria-label="Main"] a[aria-current="page"]').innerText(),
      'Plugins',
    );
    const rows = await page.locator('tbody tr').count();
    const empty = await page.getByText('No plugins installed').count();
    assert.ok(rows > 0 || empty === 1, 'either a table of plugins or the empty state');
    await assertNoPortico(page);
    assert.deepEqual(errors, []);
    await screenshot(page, 'plugins.png');
    await page.close();
  });
});

describe('the catalogue of a white-label portal', () => {
  let portal;
  let browser;

  before(async () => {
    portal = await startPortal(acmeConfig());
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
  });

  test('facet links narrow the catalogue without JavaScript', async () => {
    const { page, errors } = await open(browser.context, `${portal.url}/catalog`);
    assert.equal(await page.title(), `Catalog – ${ACME.name}`);
    assert.equal(
      await page.locator('nav[aria-label="Main"] a[aria-current="page"]').innerText(),
      'Catalog',
    );
    const all = await page.locator('.result').count();
    assert.ok(all > demoTitles(ACME.name).length, `every kind is listed (${all})`);

    const kind = page.locator('section.facet', { has: page.getByRole('heading', { name: 'Kind' }) });
    await Promise.all([
      page.waitForURL(/\/catalog\?kind=API$/),
      kind.locator('a.facet-value', { hasText: 'API' }).click(),
    ]);
    const titles = await page.locator('.result h3').allInnerTexts();
    assert.deepEqual([...titles].sort(), demoTitles(ACME.name).sort());
    assert.equal(await page.locator('a.facet-value.is-selected').count(), 1);

    await page.getByRole('searchbox', { name: 'Search the catalog' }).fill('pets');
    await Promise.all([page.waitForURL(/q=pets/), page.getByRole('button', { name: 'Search' }).click()]);
    assert.match(page.url(), /kind=API/, 'the search keeps the selected filters');
    assert.deepEqual(await page.locator('.result h3').allInnerTexts(), ['Petstore']);

    assert.equal(await page.evaluate(() => document.scripts.length), 0);
    await assertNoPortico(page);
    assert.deepEqual(errors, []);
    await screenshot(page, 'catalog.png');
    await page.close();
  });

  test('an API page shows its operations and links to its owner', async () => {
    const { page, errors } = await open(browser.context, `${portal.url}/apis/default/petstore`);
    assert.equal(await page.title(), `Petstore – ${ACME.name}`);
    assert.ok((await page.locator('table.operations tbody tr').count()) > 0, 'operations are listed');
    await screenshot(page, 'api.png');
    const facts = page.locator('aside.facts');
    await Promise.all([
      page.waitForURL(/\/catalog\/group\/default\/pets-team$/),
      facts.getByRole('link', { name: 'pets-team' }).click(),
    ]);
    const ownerOf = page.locator('[data-relation="ownerOf"]');
    assert.ok((await ownerOf.getByRole('link', { name: 'petstore' }).count()) > 0, 'relations go both ways');
    await assertNoPortico(page);
    assert.deepEqual(errors, []);
    await page.close();

    const versioned = await open(browser.context, `${portal.url}/apis/default/payments`);
    const rows = versioned.page.locator('table.versions tbody tr');
    assert.equal(await rows.count(), 2, 'two versions, newest first');
    assert.match(await rows.first().innerText(), /2\.1\.0/);
    assert.match(await rows.first().innerText(), /sandbox/i);
    assert.match(await rows.nth(1).innerText(), /Deprecated[\s\S]*2027-06-30/);
    await Promise.all([
      versioned.page.waitForURL(/\?version=1\.8\.0$/),
      versioned.page.getByRole('link', { name: '1.8.0', exact: true }).click(),
    ]);
    const ops = await versioned.page.locator('table.operations tbody').innerText();
    assert.match(ops, /getCharge/, 'the picked version\'s operations');
    assert.doesNotMatch(ops, /createRefund/);
    await screenshot(versioned.page, 'api-versions.png');
    await assertNoPortico(versioned.page);
    assert.deepEqual(versioned.errors, []);
    await versioned.page.close();

    const missing = await browser.context.newPage();
    const response = await missing.goto(`${portal.url}/apis/default/no-such-api`);
    assert.equal(response.status(), 404);
    assert.equal(await missing.title(), `Not found – ${ACME.name}`);
    await missing.close();
  });
});

describe('a portal with default branding', () => {
  let portal;
  let browser;

  before(async () => {
    portal = await startPortal(undefined);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
  });

  test('shows its own name, logo and "Powered by Portico"', async () => {
    const { page, errors } = await open(browser.context, `${portal.url}/`);
    assert.equal(await page.title(), 'Home – Portico');
    const footer = page.locator('footer.site-footer');
    assert.match(await footer.innerText(), /Powered by Portico/);
    const logo = page.locator('header .brand img');
    assert.ok(await logo.evaluate((img) => img.complete && img.naturalWidth > 0), 'the logo loads');
    const titles = await page.locator('.card h3').allInnerTexts();
    assert.deepEqual([...titles].sort(), demoTitles('Portico').sort());
    assert.deepEqual(errors, []);
    await screenshot(page, 'home-default.png');
    await page.close();
  });
});

describe('installing a plugin from the plugins page', () => {
  // Built by the Rust tests' build script (tests/build.rs); the SDK embeds its manifest.
  const helloConnector =
    process.env.HELLO_CONNECTOR_WASM ||
    path.join(root, 'target/guests/wasm32-wasip2/release/hello_connector.wasm');
  let portal;
  let browser;

  before(async () => {
    await access(helloConnector).catch(() => {
      throw new Error(`${helloConnector} not found: build the tests first (cargo build --release -p portico-tests --tests)`);
    });
    portal = await startPortal();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
  });

  /** Submits the form around `button` and waits for the page it answers with. */
  async function press(page, button) {
    await Promise.all([page.waitForNavigation(), button.click()]);
  }

  test('an admin uploads, switches off, switches on and removes a plugin without a restart', async () => {
    const { page, errors } = await open(browser.context, `${portal.url}/plugins`);
    await page.getByLabel('Username').fill(ADMIN.username);
    await page.getByLabel('Password').fill(ADMIN.password);
    await Promise.all([
      page.waitForURL(`${portal.url}/plugins`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    const row = page.locator('tbody tr', { has: page.locator('a.plugin-id', { hasText: /^hello-connector$/ }) });
    assert.equal(await row.count(), 0, 'not installed yet');

    await page.getByLabel('Plugin package').setInputFiles(helloConnector);
    await press(page, page.getByRole('button', { name: 'Install' }));
    assert.match(await page.getByRole('status').innerText(), /^Installed hello-connector \S+\.$/);
    assert.equal(await row.count(), 1, 'listed with its health once installed');
    await screenshot(page, 'plugin-installed.png');

    const detail = page.locator('#plugin-hello-connector');
    await press(page, detail.getByRole('button', { name: 'Switch off' }));
    assert.equal(await row.count(), 0, 'a switched-off plugin is not loaded');
    const switchedOff = page.locator('li', { hasText: 'hello-connector' });
    await press(page, switchedOff.getByRole('button', { name: 'Switch on' }));
    assert.equal(await row.count(), 1, 'switched back on');

    await press(page, detail.getByRole('button', { name: 'Remove every version' }));
    assert.equal(await page.getByRole('status').innerText(), 'Removed hello-connector.');
    assert.equal(await row.count(), 0);
    assert.deepEqual(errors, []);

    // A file that is not a plugin is refused with the reason, and nothing changes.
    const bogus = path.join(await mkdtemp(path.join(tmpdir(), 'portal-upload-')), 'bogus.wasm');
    await writeFile(bogus, 'not a component');
    await page.getByLabel('Plugin package').setInputFiles(bogus);
    await press(page, page.getByRole('button', { name: 'Install' }));
    assert.match(await page.getByRole('alert').innerText(), /WebAssembly|component|magic/i);
    await page.close();
  });
});

describe('single sign-on through a real OpenID Connect provider (oidc-provider)', () => {
  const CLIENT = { id: 'portal', secret: 'browser-test-client-secret' };
  // The provider's people: their claims, as an identity provider would hold them.
  const PEOPLE = {
    grace: {
      preferred_username: 'grace',
      name: 'Grace Hopper',
      email: 'grace@example.com',
      groups: ['portal-admins', 'partners-acme'],
    },
  };
  let issuer;
  let idp;
  let portal;
  let browser;
  let secrets;

  before(async () => {
    // The provider listens first (the portal's configuration names it); it
    // learns the portal's callback URL once the portal has a port.
    let handle = (_req, res) => res.writeHead(503).end();
    idp = http.createServer((req, res) => handle(req, res));
    await new Promise((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${idp.address().port}`;
    secrets = await mkdtemp(path.join(tmpdir(), 'portal-oidc-'));
    const secretFile = path.join(secrets, 'client-secret');
    await writeFile(secretFile, CLIENT.secret);
    portal = await startPortal(`[auth.oidc]
issuer = ${str(issuer)}
client_id = ${str(CLIENT.id)}
client_secret = ${str(`file:${secretFile}`)}
scopes = ["openid", "profile", "email", "groups"]
button = "Sign in with Example SSO"
group_claim = "groups"
role_claim = "groups"
allow_private_addresses = true
[auth.oidc.role_mapping]
portal-admins = "admin"
`);
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: CLIENT.id,
          client_secret: CLIENT.secret,
          redirect_uris: [`${portal.url}/auth/oidc/callback`],
        },
      ],
      claims: {
        openid: ['sub'],
        profile: ['name', 'preferred_username'],
        email: ['email'],
        groups: ['groups'],
      },
      scopes: ['openid', 'profile', 'email', 'groups'],
      findAccount: async (_ctx, id) =>
        PEOPLE[id] && { accountId: id, claims: async () => ({ sub: id, ...PEOPLE[id] }) },
    });
    handle = provider.callback();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
    await new Promise((resolve) => (idp ? idp.close(resolve) : resolve()));
    if (secrets) await rm(secrets, { recursive: true, force: true });
  });

  test('a person signs in at the provider and lands signed in with mapped roles and groups', async () => {
    const { page } = await open(browser.context, `${portal.url}/auth/login?next=/profile`);
    await Promise.all([
      page.waitForURL((url) => url.href.startsWith(issuer)),
      page.getByRole('link', { name: 'Sign in with Example SSO' }).click(),
    ]);
    await page.locator('input[name="login"]').fill('grace');
    await page.locator('input[name="password"]').fill('any password');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign-in' }).click()]);
    let callback;
    page.on('request', (request) => {
      if (request.url().startsWith(`${portal.url}/auth/oidc/callback`)) callback = request.url();
    });
    await Promise.all([
      page.waitForURL(`${portal.url}/profile`),
      page.getByRole('button', { name: 'Continue' }).click(),
    ]);
    const profile = await page.locator('main').innerText();
    assert.match(profile, /grace/);
    assert.match(profile, /Grace Hopper/);
    assert.match(profile, /admin/, 'the provider group portal-admins maps to the admin role');
    assert.match(profile, /partners-acme/, 'provider groups become portal groups');
    await screenshot(page, 'sso-profile.png');

    // The same callback again (a replayed code and state) is refused, and says why.
    assert.ok(callback, 'the provider sent the browser to the callback');
    const replay = await page.goto(callback);
    assert.equal(replay.status(), 400);
    assert.match(await page.locator('main').innerText(), /not valid any more/);
    await page.close();
  });
});

describe('a newcomer on the demo portal', () => {
  let portal;
  let browser;

  before(async () => {
    portal = await startPortal();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await portal?.stop();
  });

  test('signs up and makes a successful try-it call against the synthetic sandbox within a minute', async () => {
    const started = Date.now();
    let steps = 0;
    const step = async (action) => {
      steps += 1;
      await action;
    };
    const { page, errors } = await open(browser.context, `${portal.url}/`);
    await step(page.getByRole('link', { name: 'Petstore' }).click());
    await step(page.getByRole('link', { name: 'Read the docs' }).click());
    await step(page.getByRole('link', { name: 'create an account' }).click());
    await page.getByLabel('Username').fill('newcomer');
    await page.getByLabel('Password').fill('a long enough passphrase');
    await step(page.getByRole('button', { name: 'Create account' }).click());
    await page.waitForURL(/\/docs(#.*)?$/);

    const form = page.locator('details.try-operation', { hasText: 'POST /pets' });
    await step(form.locator('summary').click());
    assert.match(
      await form.getByLabel('Server').locator('option:checked').innerText(),
      /^Synthetic sandbox/,
      'the sandbox is the default server of an API without one of its own',
    );
    await step(form.getByRole('button', { name: 'Send POST' }).click());
    await page.waitForLoadState('load');
    assert.equal(await page.locator('.try-status').innerText(), '201');
    const seconds = (Date.now() - started) / 1000;
    console.log(`time to first call: ${steps} steps, ${seconds.toFixed(1)} s`);
    assert.ok(seconds < 60, `the first call took ${seconds} s`);
    assert.deepEqual(errors, []);
    await screenshot(page, 'first-call.png');
  });
});

describe('a developer with a key on the demo portal', () => {
  let portal;
  let developer;
  let owner;

  before(async () => {
    portal = await startPortal();
    developer = await launchBrowser();
    owner = await launchBrowser();
  });

  after(async () => {
    await developer?.close();
    await owner?.close();
    await portal?.stop();
  });

  /** Submits the form of `button` (or follows a link) and waits for the page it answers with. */
  async function press(page, control) {
    await Promise.all([page.waitForNavigation(), control.click()]);
  }

  test('time to first call with a key: signs up, gets a key on the API page and makes a 2xx try-it call with it within a minute', async () => {
    const started = Date.now();
    let steps = 0;
    const step = async (action) => {
      steps += 1;
      await action;
    };
    const { page, errors } = await open(developer.context, `${portal.url}/`);
    await step(press(page, page.getByRole('link', { name: 'Petstore' })));
    const access = page.locator('#access');
    assert.match(await access.innerText(), /Pet Store[\s\S]*Free[\s\S]*Pro/);
    await step(press(page, access.getByRole('link', { name: 'create an account' })));
    await page.getByLabel('Username').fill('keyholder');
    await page.getByLabel('Password').fill('a long enough passphrase');
    await step(press(page, page.getByRole('button', { name: 'Create account' })));
    await page.waitForURL(/\/apis\/default\/petstore$/);
    await step(press(page, page.getByRole('button', { name: 'Get a key for Pet Store Free' })));

    // The copy-once dialog: the key, read from its field as a person copies it.
    const dialog = page.locator('dialog[open]');
    assert.match(await dialog.innerText(), /This is the only time this key is shown: copy it now/);
    const field = dialog.getByRole('textbox', { name: /API key/ });
    assert.equal(await field.getAttribute('readonly'), '');
    await step(field.selectText());
    const key = await field.inputValue();
    assert.match(key, /^pt_test_[0-9A-Za-z]{12}:[0-9A-Za-z]{28}$/);
    await screenshot(page, 'key-dialog.png');

    await step(press(page, dialog.getByRole('link', { name: 'Try it in the docs' })));
    const form = page.locator('details.try-operation', { hasText: 'POST /pets' });
    await step(form.locator('summary').click());
    await step(form.getByLabel(/Your API key|Your sandbox credential/).fill(key));
    await step(press(page, form.getByRole('button', { name: 'Send POST' })));
    const status = Number(await page.locator('.try-status').innerText());
    assert.ok(status >= 200 && status < 300, `the call answered ${status}`);
    const seconds = (Date.now() - started) / 1000;
    console.log(`time to first call with a key: ${steps} steps, ${seconds.toFixed(1)} s`);
    assert.ok(seconds < 60, `the first call with a key took ${seconds} s`);
    assert.equal(await page.locator('main').innerText().then((t) => t.includes(key)), false, 'the key is not shown back');
    assert.deepEqual(errors, []);
    await screenshot(page, 'first-call-with-key.png');
    await page.close();
  });

  test('the dashboard charts the first call, readable without JavaScript, with the billing period so far', async () => {
    const { page, errors } = await open(developer.context, `${portal.url}/`);
    await press(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }));
    assert.equal(await page.title(), 'My usage – Portico');
    // Each chart is an image drawn by the widget plugin, its text alternative the chart's own description.
    const calls = page.getByRole('img', { name: /^Calls over time:/ });
    assert.match(await calls.getAttribute('alt'), /\b1 call\b/);
    for (const name of [/^Calls over time:/, /^Latency percentiles:/, /^Errors by status:/, /^Quota used:/]) {
      const chart = page.getByRole('img', { name });
      assert.equal(await chart.count(), 1, `${name} is drawn`);
      assert.ok(await chart.evaluate((img) => img.complete && img.naturalWidth > 0), `${name} loads`);
    }
    const billing = page.getByRole('table', { name: /Running totals/ });
    assert.match(await billing.innerText(), /pet-store · free[\s\S]*Free tier[\s\S]*0\.00 EUR/);
    assert.deepEqual(errors, []);
    await screenshot(page, 'dashboard.png');
    await page.close();
  });

  test('on My apps a developer asks for a manual plan, the owner approves it, and a production key is created, rotated and revoked', async () => {
    const { page, errors } = await open(developer.context, `${portal.url}/`);
    await press(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My apps' }));
    assert.equal(await page.title(), 'My apps – Portico');
    await page.getByLabel('Name', { exact: true }).fill('Inventory sync');
    await press(page, page.getByRole('button', { name: 'Create app' }));
    assert.equal(await page.getByRole('heading', { level: 1 }).innerText(), 'Inventory sync');
    await press(page, page.getByRole('button', { name: 'Request Pet Store Pro' }));
    assert.match(await page.getByRole('status').innerText(), /waits for the owner's approval/);
    const subscription = page.locator('tr', { hasText: 'Pet Store' });
    assert.match(await subscription.innerText(), /requested/);

    // The owner (the demo's products belong to no account: an admin decides).
    const approvals = await open(owner.context, `${portal.url}/admin/subscriptions`);
    await approvals.page.getByLabel('Username').fill(ADMIN.username);
    await approvals.page.getByLabel('Password').fill(ADMIN.password);
    await press(approvals.page, approvals.page.getByRole('button', { name: 'Sign in' }));
    assert.equal(await approvals.page.title(), 'Approvals – Portico');
    const request = approvals.page.locator('tr', { hasText: 'Inventory sync' });
    assert.match(await request.innerText(), /keyholder[\s\S]*Pet Store[\s\S]*Pro/);
    await request.getByLabel(/Note to keyholder/).fill('Approved for the demo');
    await press(approvals.page, request.getByRole('button', { name: 'Approve Inventory sync' }));
    assert.match(await approvals.page.getByRole('status').innerText(), /^Approved Pro of Pet Store for Inventory sync/);
    assert.deepEqual(approvals.errors, []);
    await screenshot(approvals.page, 'approvals.png');
    await approvals.page.close();

    await press(page, page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My apps' }));
    const app = page.locator('section', { has: page.getByRole('heading', { name: 'Inventory sync' }) });
    assert.match(await app.innerText(), /Pet Store · Pro\s*approved\s*Owner's note: Approved for the demo/);
    await press(page, app.getByRole('link', { name: 'Manage Inventory sync' }));

    await page.getByLabel('Name', { exact: true }).fill('production server');
    await page.getByLabel('Environment', { exact: true }).selectOption('production');
    await press(page, page.getByRole('button', { name: 'Create key' }));
    const first = await page.locator('dialog[open]').getByRole('textbox').inputValue();
    assert.match(first, /^pt_live_/);
    await press(page, page.getByRole('link', { name: 'I have copied it' }));
    assert.equal(await page.locator('dialog').count(), 0, 'shown once');
    assert.equal((await page.locator('main').innerText()).includes(first), false);

    const row = page.locator('#keys tbody tr').first();
    await row.getByLabel('Old key works').selectOption('3600');
    await press(page, row.getByRole('button', { name: 'Rotate production server' }));
    assert.match(await page.getByRole('status').innerText(), /the old key keeps working for an hour/);
    const second = await page.locator('dialog[open]').getByRole('textbox').inputValue();
    assert.match(second, /^pt_live_/);
    assert.notEqual(second, first);
    await press(page, page.getByRole('link', { name: 'I have copied it' }));
    assert.equal(await page.locator('#keys tbody tr').count(), 2);

    await press(page, page.locator('#keys tbody tr').first().getByRole('button', { name: 'Revoke production server' }));
    assert.match(await page.getByRole('status').innerText(), /it stopped working at once/);
    assert.match(await page.locator('#keys tbody tr').first().innerText(), /revoked/);
    assert.equal(await page.evaluate(() => document.scripts.length), 0, 'pages need no JavaScript');
    assert.deepEqual(errors, []);
    await screenshot(page, 'my-app.png');
    await page.close();
  });
});
