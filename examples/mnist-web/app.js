// app.js — the demo page: draw on the pad, see the model's prediction live.
// Serve the repository root (python3 -m http.server --bind 127.0.0.1 8000)
// and open http://127.0.0.1:8000/examples/mnist-web/
import { load } from '../../bindings/js/minitensor-mnist.js';
import { toMnist, SIDE } from './preprocess.js';

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d', { willReadFrequently: true });
const preview = document.getElementById('preview').getContext('2d');
const digitEl = document.getElementById('digit');
const barsEl = document.getElementById('bars');
const statusEl = document.getElementById('status');

// Probability bars 0…9.
const bars = [];
for (let d = 0; d < 10; d++) {
  const label = document.createElement('span');
  label.textContent = d;
  const bar = document.createElement('div');
  bar.className = 'bar';
  const fill = document.createElement('div');
  bar.append(fill);
  const pct = document.createElement('span');
  pct.textContent = '';
  barsEl.append(label, bar, pct);
  bars.push({ bar, fill, pct });
}

function clear() {
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, pad.width, pad.height);
  preview.fillStyle = '#000';
  preview.fillRect(0, 0, SIDE, SIDE);
  digitEl.innerHTML = '&nbsp;';
  digitEl.dataset.digit = '';
  for (const b of bars) {
    b.fill.style.width = '0';
    b.pct.textContent = '';
    b.bar.classList.remove('top');
  }
  demo.last = null;
}

// Strokes: white, round, about as thick relative to the pad as MNIST's pen.
ctx.lineWidth = 20;
ctx.lineCap = 'round';
ctx.lineJoin = 'round';
ctx.strokeStyle = '#fff';
let drawing = false, last = null, pending = false;

function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * (pad.width / r.width), (e.clientY - r.top) * (pad.height / r.height)];
}

pad.addEventListener('pointerdown', (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  last = point(e);
  ctx.beginPath();
  ctx.arc(last[0], last[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fillStyle = '#fff';
  ctx.fill();
  schedule();
});
pad.addEventListener('pointermove', (e) => {
  if (!drawing) return;
  const p = point(e);
  ctx.beginPath();
  ctx.moveTo(last[0], last[1]);
  ctx.lineTo(p[0], p[1]);
  ctx.stroke();
  last = p;
  schedule();
});
for (const type of ['pointerup', 'pointercancel']) {
  pad.addEventListener(type, () => {
    drawing = false;
    schedule();
  });
}
document.getElementById('clear').addEventListener('click', clear);

// One prediction per animation frame at most.
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    predict();
  });
}

function predict() {
  if (!demo.classifier) return null;
  const { data } = ctx.getImageData(0, 0, pad.width, pad.height);
  const grey = new Uint8Array(pad.width * pad.height);
  for (let i = 0; i < grey.length; i++) grey[i] = data[4 * i]; // red = grey here
  const pixels = toMnist(grey, pad.width, pad.height);
  if (!pixels) return null;

  const { digit, probs } = demo.classifier.classify(pixels);

  const img = preview.createImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    img.data.fill(pixels[i], 4 * i, 4 * i + 3);
    img.data[4 * i + 3] = 255;
  }
  preview.putImageData(img, 0, 0);
  digitEl.textContent = digit;
  digitEl.dataset.digit = String(digit);
  bars.forEach((b, d) => {
    b.fill.style.width = `${(100 * probs[d]).toFixed(1)}%`;
    b.pct.textContent = `${(100 * probs[d]).toFixed(1)}%`;
    b.bar.classList.toggle('top', d === digit);
  });
  demo.last = { digit, probs: Array.from(probs), pixels: Array.from(pixels) };
  return demo.last;
}

// For scripts and the browser test (tests/wasm/browser_test.mjs).
const demo = { classifier: null, last: null, predict, clear };
window.mnistDemo = demo;
clear();
demo.ready = load().then((c) => {
  demo.classifier = c;
  statusEl.textContent = `minitensor ${c.version}, ${c.backend}: ready`;
  // Time per prediction, over many (the page's clock ticks in 0.1 ms),
  // once the engine has had time to optimize the module.
  setTimeout(() => {
    const blank = new Uint8Array(SIDE * SIDE), reps = 1000;
    for (let i = 0; i < reps; i++) c.classify(blank);
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) c.classify(blank);
    const us = (1000 * (performance.now() - t0)) / reps;
    statusEl.textContent = `minitensor ${c.version}, ${c.backend}: ` +
                           `${us.toFixed(0)} µs per prediction in this browser`;
  }, 500);
  document.body.dataset.ready = 'true';
}, (e) => {
  statusEl.textContent = `cannot load the model: ${e.message}`;
  document.body.dataset.ready = 'error';
  throw e;
});
