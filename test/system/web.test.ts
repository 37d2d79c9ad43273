// The web page (issue #14) end to end in real headless Chromium (Debian's `chromium`, driven by
// playwright-core): the page served by the app at / loads under the app's CSP, shows a model's
// facts, classifies an uploaded sample in mean and MC mode with the same classes and numbers as
// the API gives for the same requests, runs a zero-shot query, shows API errors readably, fits a
// narrow screen, and saves a screenshot: into a temp folder, or where WEB_SCREENSHOT says
// (`WEB_SCREENSHOT=docs/images/web-page.png` refreshes the README's), so a test run leaves the
// working tree as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.WEB_SCREENSHOT ? path.resolve(ROOT, process.env.WEB_SCREENSHOT) : path.join(tmpdir(), `hetxl-web-page-${process.pid}.png`);
const STEP_MS = 30_000;
// Chromium stays off the network: every host name fails to resolve except the loopback
// address the app listens on, and any proxied traffic would go to a closed port.
const OFFLINE_ARGS = [
  '--no-sandbox', // the test runs as root in CI
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
  '--proxy-server=http://127.0.0.1:9',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

const fmt = (x: number) => x.toFixed(4);

interface Score {
  index: number;
  label: string;
  probability: number;
  std?: number;
  stdError?: number;
}
interface Answer {
  predictions: { classes: Score[]; statistics: Record<string, number> }[];
}

/** The API's answer to one multipart request, asked by the test itself (not through the page). */
async function api(base: string, route: string, image: Buffer, fields: Record<string, string | string[]>): Promise<any> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'image.png');
  for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) form.append(key, v);
  const response = await fetch(`${base}${route}`, { method: 'POST', body: form });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body;
}

/** What one result column of the page shows: its class rows and its statistics. */
function readColumn(page: Page, mode: 'mean' | 'mc') {
  return page.$$eval(`.column[data-mode="${mode}"]`, ([column]) => ({
    rows: [...column.querySelectorAll<HTMLElement>('tr.class-row')].map((row) => ({
      label: row.dataset.label,
      probability: Number(row.dataset.probability),
      text: row.querySelector('.probability')?.textContent,
      std: row.querySelector('.std')?.textContent,
      stdError: row.querySelector('.std-error')?.textContent,
      // Each dot's position on its strip's 0..1 axis: the sampled probability it stands for.
      dots: [...row.querySelectorAll('.dot')].map((dot) => Number(dot.getAttribute('cx')) / Number(dot.closest('svg')!.getAttribute('width'))),
    })),
    stats: Object.fromEntries([...column.querySelectorAll<HTMLElement>('[data-stat]')].map((dd) => [dd.dataset.stat, Number(dd.dataset.value)])),
    statText: Object.fromEntries([...column.querySelectorAll<HTMLElement>('[data-stat]')].map((dd) => [dd.dataset.stat, dd.querySelector('.num')?.textContent])),
    meanings: column.querySelectorAll('[data-stat] .meaning').length,
    remaining: column.querySelector('tr.remaining')?.textContent,
  }));
}

/** The page's column against the API's answer for the same request: classes, numbers, statistics. */
function assertSameAnswer(shown: Awaited<ReturnType<typeof readColumn>>, answer: Answer, mc: boolean): void {
  const { classes, statistics } = answer.predictions[0];
  assert.deepEqual(
    shown.rows.map((r) => r.label),
    classes.map((c) => c.label),
  );
  for (const [i, c] of classes.entries()) {
    const row = shown.rows[i];
    assert.equal(row.probability, c.probability, `${c.label}: the probability the page holds`);
    assert.equal(row.text, fmt(c.probability), `${c.label}: the probability the page shows`);
    if (mc) {
      assert.equal(row.std, fmt(c.std!));
      assert.equal(row.stdError, fmt(c.stdError!));
    }
  }
  assert.deepEqual(shown.stats, statistics);
  for (const [key, value] of Object.entries(statistics)) assert.equal(shown.statText[key], fmt(value), key);
  assert.equal(shown.meanings, Object.keys(statistics).length, 'one sentence per statistic');
  const rest = 1 - classes.reduce((sum, c) => sum + c.probability, 0);
  assert.match(shown.remaining ?? '', new RegExp(fmt(Math.max(0, rest)).replace('.', '\\.')));
}

/** Runs the form and waits until the page has answered: results or an error. */
async function run(page: Page): Promise<void> {
  await page.focus('#run');
  await page.keyboard.press('Enter'); // the keyboard, not the mouse, submits
  await page.waitForFunction(() => {
    const busy = document.getElementById('busy')?.textContent;
    return busy === '' && !(document.getElementById('run') as HTMLButtonElement).disabled;
  }, undefined, { timeout: STEP_MS });
}

async function errorText(page: Page): Promise<string> {
  assert.equal(await page.isVisible('#error[role="alert"]'), true, 'the error box is shown');
  return (await page.textContent('#error')) ?? '';
}

test('the web page in headless Chromium: classify, zero-shot and errors match the API', { timeout: 180_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: install Debian's chromium (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
  await promisify(execFile)('npm', ['run', '--silent', 'build:web'], { cwd: ROOT });

  const app = await buildApp(loadConfig({}, { modelsDir: path.join(ROOT, 'models'), logLevel: 'silent', ortThreads: 1 }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: OFFLINE_ARGS, timeout: STEP_MS });
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    for (let i = 0; i < 300 && (await fetch(`${base}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));

    // The page is served under the app's CSP; unknown paths, paths out of docs/examples/ and its
    // README still get the JSON 404 of the API.
    const index = await fetch(`${base}/`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal((await fetch(`${base}/examples/sneaker.png`)).headers.get('content-type'), 'image/png');
    for (const url of ['/nope', '/examples/README.md', '/examples/../package.json', '/examples/%2e%2e/package.json', '/src/app.ts']) {
      const response = await fetch(`${base}${url}`);
      assert.equal(response.status, 404, url);
      assert.equal((await response.json()).code, 'NOT_FOUND', url);
    }

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(STEP_MS);
    // A script refused by the CSP, or any uncaught error, would show here.
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${base}/`);
    assert.equal(await page.isHidden('#boot'), true, 'the page script ran');

    // Every control has a label (keyboard and screen-reader use).
    const unlabelled = await page.$$eval('input, select, textarea', (controls) =>
      controls.filter((c) => (c as HTMLInputElement).labels?.length === 0 && !c.getAttribute('aria-label')).map((c) => c.id),
    );
    assert.deepEqual(unlabelled, []);

    // The model's facts, as GET /v1/models/{name} gives them.
    const M = 'hetxl-fashion-mnist';
    await page.selectOption('#model', M);
    await page.waitForSelector('[data-fact="head"]:text("het-xl")');
    const details = await (await fetch(`${base}/v1/models/${M}`)).json();
    assert.equal(await page.textContent('[data-fact="K"]'), String(details.head.K));
    assert.equal(await page.textContent('[data-fact="tau"]'), details.head.tau.toPrecision(4));
    assert.equal(await page.textContent('[data-fact="link"]'), details.head.link ?? 'softmax');
    assert.equal(await page.textContent('[data-fact="extra parameters"]'), details.extraParameters.toLocaleString('en'));

    // Upload a bundled sample; mean and MC side by side.
    const sneakerPath = path.join(ROOT, 'docs', 'examples', 'sneaker.png');
    const sneaker = await readFile(sneakerPath);
    await page.setInputFiles('#file', sneakerPath);
    await page.fill('#samples', '200');
    await page.fill('#seed', '7');
    // The estimator menu offers what the model's details list, its default first.
    const offered = await page.$$eval('#estimator option', (options) => options.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(offered, (await (await fetch(`${base}/v1/models/${M}`)).json()).estimators);
    assert.deepEqual(offered, ['plain', 'antithetic', 'sobol', 'candidates', 'control']);
    await page.selectOption('#estimator', 'antithetic');
    await page.fill('#topk', '3');
    await run(page);
    assert.equal(await page.isHidden('#error'), true, (await page.textContent('#error')) ?? '');
    const mean = await api(base, `/v1/models/${M}/classify`, sneaker, { mode: 'mean', topK: '3' });
    const mc = await api(base, `/v1/models/${M}/classify`, sneaker, { mode: 'mc', samples: '200', seed: '7', estimator: 'antithetic', topK: '3' });
    assertSameAnswer(await readColumn(page, 'mean'), mean, false);
    const mcShown = await readColumn(page, 'mc');
    assertSameAnswer(mcShown, mc, true);
    // The strip: 24 single-sample requests with seeds 8, 9, ...; its first dot is seed 8's p_s.
    for (const row of mcShown.rows) assert.equal(row.dots.length, 24, `${row.label}: dots`);
    const first = await api(base, `/v1/models/${M}/predictive`, sneaker, { mode: 'mc', samples: '1', seed: '8', estimator: 'plain' });
    const top = mc.predictions[0].classes[0].index;
    assert.ok(Math.abs(mcShown.rows[0].dots[0] - first.probabilities[top]) < 1e-9, `first dot ${mcShown.rows[0].dots[0]}`);
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    // A palette PNG: the page's few flat colours keep it small in the repository.
    await sharp(await page.screenshot({ fullPage: true })).png({ palette: true }).toFile(SCREENSHOT);

    // A refused option and a corrupt image: readable errors, and the page keeps working.
    await page.fill('#samples', '0');
    await run(page);
    assert.match(await errorText(page), /400 SAMPLES_OUT_OF_RANGE/);
    await page.fill('#samples', '50');
    await page.setInputFiles('#file', { name: 'corrupt.png', mimeType: 'image/png', buffer: Buffer.from('not an image at all') });
    await run(page);
    assert.match(await errorText(page), /400 INVALID_IMAGE/);

    // A drawing on the canvas becomes the image, and the page answers again after its errors.
    const box = (await page.locator('#canvas').boundingBox())!;
    await page.mouse.move(box.x + 20, box.y + 20);
    await page.mouse.down();
    await page.mouse.move(box.x + 90, box.y + 90, { steps: 8 });
    await page.mouse.up();
    await page.waitForSelector('#preview-caption:text("drawing")');
    await run(page);
    assert.equal(await page.isHidden('#error'), true, (await page.textContent('#error')) ?? '');
    assert.equal((await readColumn(page, 'mc')).rows.length, 3);

    // Zero-shot: a bundled sample picked from the list, labels one per line, the model's templates.
    const Z = 'shapes-zero-shot';
    await page.click('#tab-zero-shot');
    await page.waitForSelector('[data-fact="head"]:text("het-xl")');
    assert.equal(await page.inputValue('#model'), Z);
    await page.selectOption('#sample', 'red-circle.png');
    await page.waitForSelector('#preview-caption:text("red-circle.png")');
    const labels = ['red circle', 'blue circle', 'red square', 'green triangle'];
    await page.fill('#labels', labels.join('\n'));
    await page.fill('#topk', '4');
    await page.fill('#samples', '50'); // a model change resets S to its default
    await run(page);
    assert.equal(await page.isHidden('#error'), true, (await page.textContent('#error')) ?? '');
    const templates = (await page.inputValue('#templates')).split('\n');
    const redCircle = await readFile(path.join(ROOT, 'docs', 'examples', 'red-circle.png'));
    const zsFields = { labels, templates, topK: '4', seed: '7' };
    assertSameAnswer(await readColumn(page, 'mean'), await api(base, `/v1/models/${Z}/zero-shot`, redCircle, { ...zsFields, mode: 'mean' }), false);
    const zsMc = await api(base, `/v1/models/${Z}/zero-shot`, redCircle, { ...zsFields, mode: 'mc', samples: '50', estimator: 'antithetic' });
    assertSameAnswer(await readColumn(page, 'mc'), zsMc, true);
    assert.equal(zsMc.predictions[0].classes[0].label, 'red circle');

    // A narrow screen: nothing wider than the viewport (wide tables scroll inside their column).
    await page.setViewportSize({ width: 360, height: 740 });
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 360, 'no horizontal scrolling at 360 px');
    await page.setViewportSize({ width: 1280, height: 900 });

    // An unknown word: the API's message, naming it.
    await page.fill('#labels', 'red circle\nqqq');
    await run(page);
    const unknown = await errorText(page);
    assert.match(unknown, /400 UNKNOWN_WORDS/);
    assert.match(unknown, /qqq/);

    assert.deepEqual(problems, []);
  } finally {
    await browser.close();
    await app.close();
  }
});
