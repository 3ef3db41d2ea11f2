import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestServer, stopTestServer, type TestServer } from './helpers/server.js';
import sharp from 'sharp';
import { photo } from './helpers/images.js';
import { fixture } from './helpers/paths.js';

/**
 * The web playground in a real headless browser (Debian's chromium, driven by
 * playwright-core), against a real server with the real model. Screenshots go to
 * CLEARSHOT_SCREENSHOTS_DIR when set (docs/screenshots is made that way), else a temp dir.
 */
const CHROMIUM = process.env.CLEARSHOT_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let server: TestServer;
let browser: Browser;
let shots: string;
let fixtureDir: string;
let inputPath: string;

before(async () => {
  server = await startTestServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  shots = process.env.CLEARSHOT_SCREENSHOTS_DIR ?? (await mkdtemp(join(tmpdir(), 'clearshot-shots-')));
  await mkdir(shots, { recursive: true });
  fixtureDir = await mkdtemp(join(tmpdir(), 'clearshot-page-'));
  inputPath = join(fixtureDir, 'cat.jpg');
  await writeFile(inputPath, await photo(120, 80, 'jpeg'));
});
after(async () => {
  await browser?.close();
  await stopTestServer(server);
  // A failed before() leaves these unset; cleaning up must not add a second failure.
  if (fixtureDir) await rm(fixtureDir, { recursive: true, force: true });
  if (shots && !process.env.CLEARSHOT_SCREENSHOTS_DIR) await rm(shots, { recursive: true, force: true });
});

async function open(width: number, height: number): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  const external: string[] = [];
  const urls: string[] = [];
  const failed: string[] = [];
  page.on('request', (r) => {
    urls.push(r.url());
    if (!r.url().startsWith(server.url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) external.push(r.url());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
  });
  await page.goto(`${server.url}/`);
  Object.assign(page, { external, urls, failed });
  return page;
}

/** Waits until an element's box stops moving (smooth scrolling, layout after images load). */
async function settled(page: Page, selector: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 50; i++) {
    const box = JSON.stringify(await page.locator(selector).boundingBox());
    if (box === last) return;
    last = box;
    await page.waitForTimeout(100);
  }
  throw new Error(`${selector} kept moving for 5 s`);
}

async function saveKey(page: Page, key: string): Promise<void> {
  await page.fill('#api-key', key);
  await page.click('#key-form button[type=submit]');
}

describe('web playground in Chromium', () => {
  it('enhances an uploaded photo end to end and shows a before/after comparison', async () => {
    const page = await open(1280, 900);
    await saveKey(page, server.key);
    assert.equal(await page.evaluate("localStorage.getItem('clearshot.apiKey')"), server.key);
    assert.ok(!page.url().includes(server.key), 'the key never goes in the URL');

    await page.setInputFiles('#file', inputPath);
    await page.selectOption('#scale', '2');
    await page.locator('#summary', { hasText: '→' }).waitFor();
    assert.equal(await page.textContent('#summary'), '120 × 80 → 240 × 160 (2x), costs 2 credits');
    await page.selectOption('#scale', '');
    assert.match((await page.textContent('#summary')) ?? '', /120 × 80 → 480 × 320 \(4x, auto\)/);
    await page.selectOption('#scale', '2');

    await page.click('#submit');
    await page.waitForSelector('#result-card:not([hidden])', { timeout: 60_000 });
    await page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { naturalWidth: number } } }).document.querySelector('#after').naturalWidth > 0);
    const size = await page.evaluate("[document.querySelector('#after').naturalWidth, document.querySelector('#after').naturalHeight]");
    assert.deepEqual(size, [240, 160], 'result image is input x scale');
    assert.equal(await page.evaluate("document.querySelector('#progress').value"), 100);
    assert.match((await page.textContent('#facts')) ?? '', /Input120 × 80Output240 × 160Time[\d.]+ sCredits2/);
    assert.match((await page.textContent('#validity')) ?? '', /works for another (59|60) min/);
    assert.match((await page.getAttribute('#download', 'href')) ?? '', /\/results\/[0-9a-f-]{36}\.jpg\?expires=/);

    // Drag the divider with the mouse, then move it with the keyboard. The result card
    // scrolls into view smoothly: wait until it stands still, or the drag would start
    // where the divider was a moment ago.
    await settled(page, '#divider');
    const box = (await page.locator('#compare').boundingBox())!;
    const handle = (await page.locator('#divider').boundingBox())!;
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.2, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const dragged = Number(await page.getAttribute('#divider', 'aria-valuenow'));
    assert.ok(dragged >= 15 && dragged <= 25, `divider at ${dragged}%`);
    assert.match((await page.getAttribute('#after-wrap', 'style')) ?? '', /inset\(0px 0px 0px (1[5-9]|2[0-5])/);
    await page.focus('#divider');
    await page.keyboard.press('End');
    assert.equal(await page.getAttribute('#divider', 'aria-valuenow'), '100');
    await page.keyboard.press('Home');
    for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+ArrowRight');
    assert.equal(await page.getAttribute('#divider', 'aria-valuenow'), '50');

    // The history remembers the task.
    assert.match((await page.textContent('#history')) ?? '', /cat\.jpg · 120 × 80 → 240 × 160/);
    await page.screenshot({ path: join(shots, 'playground-desktop.png'), fullPage: true });
    assert.deepEqual((page as Page & { external: string[] }).external, [], 'no external requests (CDN, fonts)');
    // Live progress came from the event stream, with no polling; the favicon loaded.
    const { urls, failed } = page as Page & { urls: string[]; failed: string[] };
    assert.equal(urls.filter((u) => /\/api\/tasks\/visual\/scale\/[0-9a-f-]{36}\/events$/.test(u)).length, 1, urls.join('\n'));
    assert.deepEqual(urls.filter((u) => /\/api\/tasks\/visual\/scale\/[0-9a-f-]{36}$/.test(u)), [], 'no polling while the stream works');
    assert.ok(urls.includes(`${server.url}/favicon.svg`), 'the page names its favicon');
    assert.deepEqual(failed, [], 'no request of the page failed (favicon included)');
    const icon = await fetch(`${server.url}/favicon.svg`);
    assert.deepEqual([icon.status, icon.headers.get('content-type')], [200, 'image/svg+xml']);
    assert.match(await icon.text(), /^<svg /);
    await page.close();
  });

  it('falls back to polling when the event stream is not available', async () => {
    const page = await open(1280, 900);
    await page.route('**/events', (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"status":503,"message":"no streams here","data":{}}' }));
    await saveKey(page, server.key);
    await page.setInputFiles('#file', inputPath);
    await page.selectOption('#scale', '2');
    await page.click('#submit');
    await page.waitForSelector('#result-card:not([hidden])', { timeout: 60_000 });
    assert.equal(await page.evaluate("document.querySelector('#progress').value"), 100);
    const { urls } = page as Page & { urls: string[] };
    assert.ok(urls.some((u) => /\/api\/tasks\/visual\/scale\/[0-9a-f-]{36}$/.test(u)), 'polled the task');
    await page.close();
  });

  it('face mode says how many faces it restored', async () => {
    const page = await open(1280, 900);
    await saveKey(page, server.key);
    const portraitPath = join(fixtureDir, 'portrait.jpg');
    await writeFile(portraitPath, await sharp(fixture('photos', 'astronaut.jpg')).extract({ left: 120, top: 10, width: 220, height: 220 }).resize(128, 128).jpeg({ quality: 70 }).toBuffer());
    await page.setInputFiles('#file', portraitPath);
    await page.check('input[name=type][value=face]');
    await page.selectOption('#scale', '2');
    await page.click('#submit');
    await page.waitForSelector('#result-card:not([hidden])', { timeout: 60_000 });
    assert.match((await page.textContent('#facts')) ?? '', /Faces1 restored/);
    await page.close();
  });

  it('says in plain words when the key is wrong', async () => {
    const page = await open(1280, 900);
    await saveKey(page, 'cs_wrong_key');
    await page.setInputFiles('#file', inputPath);
    await page.click('#submit');
    await page.waitForSelector('#error:not([hidden])');
    assert.match((await page.textContent('#error')) ?? '', /The API key was not accepted \(invalid X-API-KEY\)\. Check the key in step 1\./);
    await page.close();
  });

  it('explains a failed task (not an image) and a bad URL', async () => {
    const page = await open(1280, 900);
    await saveKey(page, server.key);
    const bogus = join(fixtureDir, 'notes.jpg');
    await writeFile(bogus, 'this is not a picture');
    await page.setInputFiles('#file', bogus);
    await page.click('#submit');
    await page.waitForSelector('#error:not([hidden])');
    assert.match((await page.textContent('#error')) ?? '', /^This file is not an image ClearShot can read: /);
    await page.fill('#url', 'http://127.0.0.1:1/private.png');
    await page.click('#submit');
    await page.locator('#error', { hasText: /could not be used/ }).waitFor();
    assert.match((await page.textContent('#error')) ?? '', /The image URL could not be used: .*private or reserved address/);
    await page.close();
  });

  it('works on a phone-sized screen and with the keyboard alone', async () => {
    const page = await open(390, 844);
    await page.focus('#api-key');
    await page.keyboard.type(server.key);
    await page.keyboard.press('Enter');
    // The drop zone is reachable and operable from the keyboard.
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.focus('#drop').then(() => page.keyboard.press('Enter'))]);
    await chooser.setFiles(inputPath);
    await page.locator('#summary', { hasText: '→' }).waitFor();
    await page.focus('#submit');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#result-card:not([hidden])', { timeout: 60_000 });
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    assert.ok(overflow <= 0, `no horizontal scrolling on a phone (${overflow} px)`);
    await page.screenshot({ path: join(shots, 'playground-phone.png'), fullPage: true });
    await page.close();
  });
});
