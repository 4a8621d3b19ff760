// browser_test.mjs — examples/mnist-web in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core; never `npx playwright
// install`):
//   1. the page loads the module (no request leaves 127.0.0.1);
//   2. digits drawn as mouse strokes on the pad are predicted correctly;
//   3. the 1000 committed test digits, classified in the page, get
//      TensorFlow's accuracy and logits within 1e-4, and (MT_NATIVE_LOGITS)
//      the native predictions and logits within 1e-4.
//
//   cd tests/wasm && npm ci && node browser_test.mjs [--screenshot FILE]
//
// The page is served from the repository root by a one-line static server
// on 127.0.0.1 (python3 -m http.server). Exit 0 = pass.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const args = process.argv.slice(2);
const screenshot = args.includes('--screenshot') ? path.resolve(args[args.indexOf('--screenshot') + 1]) : null;
const N = 1000, CLASSES = 10, WANT_CORRECT = 957, TOL = 1e-4;

// ---- digits as strokes on the 280×280 pad ------------------------------------
// Each digit is a list of strokes; each stroke a list of [x, y] points
// (drawn with straight mouse moves in between).
const arc = (cx, cy, rx, ry, from, to, steps = 24) =>
  Array.from({ length: steps + 1 }, (_, i) => {
    const t = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)];
  });
const DIGITS = {
  0: [arc(140, 140, 58, 88, -90, 270, 36)],
  1: [[[128, 70], [152, 48], [150, 140], [148, 232]]],
  2: [[...arc(140, 105, 52, 48, 200, 360, 16), [178, 150], [95, 228], [205, 226]]],
  3: [[...arc(138, 95, 50, 42, 210, 450, 18), ...arc(138, 180, 58, 46, -90, 140, 18)]],
  4: [[[125, 48], [92, 165], [208, 165]], [[172, 92], [170, 236]]],
  5: [[[195, 52], [108, 52], [100, 128], ...arc(140, 170, 58, 52, 220, 480, 20)]],
  6: [[[178, 50], [128, 95], [100, 150], ...arc(142, 182, 46, 44, 180, 540, 28)]],
  7: [[[82, 58], [205, 58], [148, 150], [118, 234]]],
  8: [[...arc(140, 96, 42, 42, 90, 450, 24), ...arc(140, 182, 52, 46, -90, 270, 28)]],
  9: [[...arc(138, 100, 48, 46, 0, 360, 28), [184, 110], [176, 236]]],
};

// ---- the static server ---------------------------------------------------------
function serve() {
  const server = spawn('python3', ['-u', '-m', 'http.server', '--bind', '127.0.0.1', '0', '--directory', root],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`http.server did not start: ${out}`)), 10000);
    server.stdout.on('data', (d) => {
      out += d;
      const m = /port (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ server, url: `http://127.0.0.1:${m[1]}` });
      }
    });
    server.on('exit', (code) => reject(new Error(`http.server exited (${code}): ${out}`)));
  });
}

function readF32(file) {
  const b = readFileSync(file);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

let failures = 0;
function check(ok, message) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${message}`);
  if (!ok) failures++;
}

const { server, url } = await serve();
const profile = mkdtempSync(path.join(tmpdir(), 'mt-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
           '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    viewport: { width: 880, height: 400 },
  });
  // Nothing but the local server.
  const outside = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(url + '/')) return route.continue();
    outside.push(u);
    return route.abort();
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto(`${url}/examples/mnist-web/`);
  await page.waitForSelector('body[data-ready]', { timeout: 20000 });
  const ready = await page.getAttribute('body', 'data-ready');
  check(ready === 'true', `page loaded the module (${await page.textContent('#status')})`);
  if (ready !== 'true') throw new Error('the page could not load the module');
  const backend = await page.evaluate(() => window.mnistDemo.classifier.backend);
  check(/wasm-simd128/.test(backend), `SIMD128 kernel in the browser: ${backend}`);

  // ---- drawn digits ------------------------------------------------------------
  const box = await page.locator('#pad').boundingBox();
  const scale = box.width / 280;
  async function draw(strokes) {
    await page.click('#clear');
    for (const stroke of strokes) {
      const [x0, y0] = stroke[0];
      await page.mouse.move(box.x + x0 * scale, box.y + y0 * scale);
      await page.mouse.down();
      for (const [x, y] of stroke.slice(1))
        await page.mouse.move(box.x + x * scale, box.y + y * scale, { steps: 3 });
      await page.mouse.up();
    }
    // the prediction of the finished drawing
    return page.evaluate(() => window.mnistDemo.predict());
  }
  for (const [digit, strokes] of Object.entries(DIGITS)) {
    const r = await draw(strokes);
    const shown = await page.getAttribute('#digit', 'data-digit');
    const p = r ? r.probs[r.digit] : 0;
    check(r && r.digit === Number(digit) && shown === digit,
          `drawn ${digit}: predicted ${r?.digit} (p = ${p.toFixed(3)}), page shows ${shown}`);
  }

  // ---- the committed test digits -------------------------------------------------
  const logits = await page.evaluate(async () => {
    const res = await fetch('../mnist/data/test-images-idx3-ubyte');
    const images = new Uint8Array(await res.arrayBuffer()).subarray(16);
    return Array.from(window.mnistDemo.classifier.classifyBatch(images).logits);
  });
  const labels = readFileSync(path.join(root, 'examples/mnist/data/test-labels-idx1-ubyte')).subarray(8);
  const tf = readF32(path.join(root, 'examples/mnist/data/test-logits.f32'));
  const argmax = (a, i) => {
    let best = 0;
    for (let j = 1; j < CLASSES; j++) if (a[i * CLASSES + j] > a[i * CLASSES + best]) best = j;
    return best;
  };
  const maxDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  let correct = 0;
  for (let i = 0; i < N; i++) correct += argmax(logits, i) === labels[i];
  const dtf = maxDiff(logits, tf);
  check(logits.length === N * CLASSES && correct === WANT_CORRECT && dtf <= TOL,
        `${N} test digits in the browser: ${correct} correct, max |logit - TensorFlow| = ${dtf.toExponential(2)}`);
  if (process.env.MT_NATIVE_LOGITS) {
    const native = readF32(process.env.MT_NATIVE_LOGITS);
    let same = 0;
    for (let i = 0; i < N; i++) same += argmax(logits, i) === argmax(native, i);
    const dn = maxDiff(logits, native);
    check(same === N && dn <= TOL,
          `same prediction as native on ${same}/${N}, max |logit - native| = ${dn.toExponential(2)}`);
  } else {
    console.log('     MT_NATIVE_LOGITS not set: native comparison skipped (run_all.sh sets it)');
  }

  if (screenshot) {
    await draw(DIGITS[3]);
    await page.screenshot({ path: screenshot });
    console.log(`     screenshot: ${screenshot}`);
  }
  check(errors.length === 0, `no page errors${errors.length ? ': ' + errors.join('; ') : ''}`);
  check(outside.length === 0, `no request left 127.0.0.1${outside.length ? ': ' + outside.join(', ') : ''}`);
} catch (e) {
  failures++;
  console.log(`FAIL ${e.stack ?? e}`);
} finally {
  await context?.close();
  server.kill();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures ? `${failures} failure(s)` : 'all passed');
process.exitCode = failures ? 1 : 0;
