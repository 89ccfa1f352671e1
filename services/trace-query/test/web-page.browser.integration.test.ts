import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { explainCategory } from '@outpost/core';
import { type Browser, type BrowserContext, chromium, type Locator, type Page } from 'playwright-core';
import { HOSTILE_SUBJECT, HOSTILE_TEXT, startWebWorld, type WebWorld } from './web-fixtures.ts';

/**
 * The operators' page in Debian's headless Chromium against a running trace-query with a seeded
 * delivery log: sign in, the overview, a search, a message with its transcript and diagnosis.
 * Screenshots go to test/artifacts/ (git-ignored).
 */
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const MISSING = `${CHROMIUM} not found: the browser test needs Debian's chromium (apt-get install chromium), or set CHROMIUM_BIN`;
const ARTIFACTS = new URL('./artifacts/', import.meta.url);

/** What the operator sees: the rendered text, with cells and lines apart. */
// biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText is the rendered text, wanted here
const shown = (locator: Locator) => locator.innerText();

describe('the web page', { skip: existsSync(CHROMIUM) ? false : MISSING }, () => {
  let world: WebWorld;
  let browser: Browser;
  let context: BrowserContext;
  /** Console errors and uncaught exceptions (a CSP violation is one): there must be none. */
  const problems: string[] = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    world = await startWebWorld();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
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
    });
  });
  after(async () => {
    await browser?.close();
    await world?.stop();
  });

  /** A fresh tab with its own sessionStorage (no key yet). */
  async function openPage(hash = ''): Promise<Page> {
    await context?.close();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('console', (message) => {
      // The wrong-key test makes the server answer 401 on purpose; Chromium logs that fetch.
      if (message.type() === 'error' && !/status of 401/.test(message.text()))
        problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    const response = await page.goto(`${world.base}/ui/${hash}`);
    assert.equal(response?.status(), 200);
    assert.match(response!.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    return page;
  }

  async function signIn(page: Page, key = world.key): Promise<void> {
    await page.fill('#operator-key', key);
    await page.click('#login-form button[type=submit]');
  }

  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: new URL(name, ARTIFACTS).pathname, fullPage: true });

  test('a wrong key is refused with a clear message, and nothing is shown', async () => {
    const page = await openPage();
    await signIn(page, 'outpost_op_not-the-right-key');
    const error = page.locator('.login-status .notice.error');
    await error.waitFor();
    assert.match(await shown(error), /This key was refused \(401 Unauthorized\)\. Only operator keys/);
    assert.equal(await page.isVisible('#nav'), false);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'the wrong key is not kept');
    await screenshot(page, 'wrong-key.png');

    // A key that stops working (removed from OUTPOST_OPERATOR_KEYS) sends the tab back to sign in.
    // A fresh load with the stored key (a hash change alone would race a reload against the
    // first refusal, which forgets the key).
    await page.evaluate(() => sessionStorage.setItem('outpost-operator-key', 'outpost_op_revoked'));
    await page.goto('about:blank');
    await page.goto(`${world.base}/ui/#/search`);
    await error.waitFor();
    assert.match(await shown(error), /This key was refused/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  test('the overview: outcomes chart, newest failures with their diagnosis, destinations', async () => {
    const page = await openPage();
    await signIn(page);
    await page.locator('#outcomes svg.chart').waitFor();
    await page.locator('#failures tr.delivery').first().waitFor();
    await page.locator('#destinations tr.destination').first().waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('outpost-operator-key')), world.key);

    // The chart: a bar per hour and outcome with anything in it; the legend has the totals.
    const bars = await page.locator('#outcomes rect.bar').count();
    assert.ok(bars >= 8, `${bars} bars`);
    assert.ok((await page.locator('#outcomes rect.bar-bounced').count()) >= 1);
    const legend = await shown(page.locator('#outcomes .legend'));
    assert.match(legend, /delivered\s*16/);
    assert.match(legend, /bounced\s*2/);
    assert.match(legend, /expired\s*1/);

    // Newest failures first, each with category, explanation and action.
    const rows = page.locator('#failures tr.delivery');
    assert.deepEqual(await rows.locator('td.recipient a').allInnerTexts(), [
      'carol@example.org',
      'dave@grey.test',
      'nobody@gmail.test',
    ]);
    const carol = await shown(rows.nth(0));
    assert.match(carol, /policy ip or ptr/i);
    assert.ok(carol.includes(explainCategory('policy_ip_or_ptr').cause), carol);
    assert.match(carol, /What to do: /);
    const nobody = await shown(rows.nth(2));
    assert.ok(nobody.includes(HOSTILE_TEXT), 'the hostile reply shown as text');

    // Destinations: the window, the automatic pause and the last error; the operator's hold.
    const destinations = await shown(page.locator('#destinations'));
    assert.match(destinations, /mx\.gmail\.test:25\s+2\s+0\s+open\s+421 4\.7\.0 Try again later/);
    assert.match(destinations, /mx\.slow\.test:25\s+5\s+0\s+paused until [^\n]*\(unreachable\)/);
    assert.match(destinations, /held\.test by ops/);
    assert.match(destinations, /Delivery paused by an operator \(ops\)/);
    assert.match(destinations, /outpost destination resume held\.test/);
    await screenshot(page, 'overview.png');
  });

  test('search failed deliveries by domain, recipient and time range; held ones say why', async () => {
    const page = await openPage('#/search');
    await signIn(page);
    await page.locator('#results tr.delivery').first().waitFor();

    await page.fill('#search-domain', 'example.org');
    await page.click('#search-form button[type=submit]');
    await page.waitForURL(/domain=example\.org/);
    await page.locator('#results tr.delivery').first().waitFor();
    assert.deepEqual(await page.locator('#results td.recipient a').allInnerTexts(), ['carol@example.org']);

    await page.fill('#search-domain', '');
    await page.fill('#search-recipient', 'nobody@gmail.test');
    await page.click('#search-form button[type=submit]');
    await page.waitForURL(/recipient=nobody%40gmail\.test/);
    await page.locator('#results td.recipient a', { hasText: 'nobody@gmail.test' }).waitFor();
    assert.equal(await page.locator('#results tr.delivery').count(), 1);
    assert.match(await shown(page.locator('#results')), /no such user/i);

    // From 90 minutes ago: the bounce of two hours ago is outside the range.
    const from = new Date(world.now - 90 * 60_000);
    const pad = (n: number) => String(n).padStart(2, '0');
    await page.fill(
      '#search-since',
      `${from.getFullYear()}-${pad(from.getMonth() + 1)}-${pad(from.getDate())}T${pad(from.getHours())}:${pad(from.getMinutes())}`,
    );
    await page.click('#search-form button[type=submit]');
    await page.locator('#results .notice', { hasText: 'No matching deliveries.' }).waitFor();

    await page.goto(`${world.base}/ui/#/search?status=held`);
    await page.locator('#results tr.delivery').first().waitFor();
    const held = await shown(page.locator('#results'));
    assert.match(held, /frank@held\.test\s+held\.test, not attempted yet\s+held\s+domain held by ops/);
    assert.match(held, /Delivery paused by an operator \(ops\): mail for held\.test is held/);
    assert.match(held, /outpost destination resume held\.test/);
    await screenshot(page, 'search.png');
  });

  test('a message: timeline, full transcript and diagnosis; hostile text stays text', async () => {
    const page = await openPage();
    await signIn(page);
    await page.locator('#failures td.recipient a', { hasText: 'nobody@gmail.test' }).click();
    await page.waitForURL(new RegExp(`#/message/${world.ids.bounced}$`));
    await page.locator('#timeline .transcript').first().waitFor();

    assert.equal(await shown(page.locator('#message-id')), world.ids.bounced);
    const envelope = await shown(page.locator('#envelope'));
    assert.ok(envelope.includes(HOSTILE_SUBJECT), 'the subject shown as text');
    const transcript = await shown(page.locator('#timeline .transcript'));
    for (const line of [
      '220 mx.gmail.test ESMTP ready',
      'RCPT TO:<nobody@gmail.test>',
      `550 5.1.1 ${HOSTILE_TEXT}`,
    ])
      assert.ok(transcript.includes(line), `transcript has ${line}`);
    const timeline = await shown(page.locator('#timeline'));
    assert.match(timeline, /attempt 1 to gmail\.test via mx\.gmail\.test \[192\.0\.2\.25\]/);
    assert.match(timeline, /:25, TLS \(TLSv1\.3, certificate not verified\), 95 ms/);
    assert.match(timeline, /TLS: self-signed certificate/);
    assert.ok(timeline.includes(explainCategory('no_such_user').cause), 'the attempt diagnosis');
    assert.ok(timeline.includes(explainCategory('no_such_user').operatorAction), 'and what to do');
    assert.ok((await shown(page.locator('#recipients'))).includes(explainCategory('no_such_user').cause));

    // Nothing from the API became markup or ran.
    assert.equal(await page.locator('img').count(), 0);
    assert.equal(await page.locator('main script').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned), undefined);
    await screenshot(page, 'message.png');

    // An expired message: both attempts, the expiry explained.
    await page.goto(`${world.base}/ui/#/message/${world.ids.expired}`);
    await page.locator('#timeline li.attempt').nth(1).waitFor();
    const expired = await shown(page.locator('#timeline'));
    assert.match(expired, /attempt 1 to grey\.test[\s\S]*attempt 2 to grey\.test/);
    assert.match(expired, /The queue lifetime ran out before it could be delivered/);
  });

  test('no console error and no CSP violation on any page', () => {
    assert.deepEqual(problems, []);
  });
});
