// bench_node.mjs — the MNIST model in Node, one thread, on the same weights
// (examples/mnist/data/mnist_mlp.safetensors) and digits:
//   minitensor    minitensor-mnist.wasm through bindings/js
//   tfjs-wasm     TensorFlow.js 4.22, @tensorflow/tfjs-backend-wasm (SIMD)
//   ort-wasm      ONNX Runtime Web 1.30 (wasm, SIMD), an ONNX graph built
//                 here from the same weights
// Each takes the 784 pixel bytes per image and returns the 10 logits (the
// u8 -> f32 /255 conversion is part of the work), and is validated against
// TensorFlow's logits (1e-4) on all 1000 digits before it is timed.
// Reports the median over 9 repetitions of batch-1 latency (µs per call)
// and batch-256 throughput (images/s).
//
//   cd benches/wasm && npm ci && node bench_node.mjs [--json FILE] [--only NAME,…]
//                                                    [--module FILE.wasm]
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..');
const data = path.join(root, 'examples', 'mnist', 'data');
const argv = process.argv.slice(2);
const opt = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : null);
const only = opt('--only')?.split(',');
const N = 1000, PIXELS = 784, CLASSES = 10, BIG = 256, REPS = 9, TOL = 1e-4;

const images = readFileSync(path.join(data, 'test-images-idx3-ubyte')).subarray(16);
const tfRef = (() => { const b = readFileSync(path.join(data, 'test-logits.f32')); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); })();

// ---- the weights, from the safetensors file -------------------------------------
function readSafetensors(file) {
  const b = readFileSync(file);
  const hlen = Number(b.readBigUInt64LE(0));
  const header = JSON.parse(b.subarray(8, 8 + hlen).toString('utf8'));
  const out = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: ${t.dtype}, expected F32`);
    const [s, e] = t.data_offsets;
    const bytes = b.subarray(8 + hlen + s, 8 + hlen + e);
    out[name] = { shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
  }
  return out;
}
const W = readSafetensors(path.join(data, 'mnist_mlp.safetensors'));
// Keras layout: d1_w [784,128], d2_w [128,10].

// ---- engines: each is { name, version, run(u8 pixels, n) -> Float32Array logits (n×10) }
async function minitensor() {
  const { load } = await import(pathToFileURL(path.join(root, 'bindings', 'js', 'minitensor-mnist.js')));
  const m = await load(opt('--module') ? pathToFileURL(path.resolve(opt('--module'))) : undefined);
  return {
    name: 'minitensor', version: `${m.version} (${m.backend})`,
    run: (px, n) => (n === 1 ? m.classify(px).logits : m.classifyBatch(px).logits),
  };
}

async function tfjsWasm() {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false); // one thread, as the others
  wasm.setWasmPaths(pathToFileURL(path.join(here, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/')).href);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not initialise');
  await tf.ready();
  const w1 = tf.tensor2d(W.d1_w.data, W.d1_w.shape), b1 = tf.tensor1d(W.d1_b.data);
  const w2 = tf.tensor2d(W.d2_w.data, W.d2_w.shape), b2 = tf.tensor1d(W.d2_b.data);
  const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  return {
    name: 'tfjs-wasm', version: `${tf.version_core} (simd ${simd}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')})`,
    run: (px, n) => tf.tidy(() => {
      const x = tf.div(tf.cast(tf.tensor2d(px, [n, PIXELS], 'int32'), 'float32'), 255);
      return tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), b2).dataSync();
    }),
  };
}

// A minimal protobuf writer for the ONNX graph.
function onnxModel() {
  const enc = new TextEncoder();
  const varint = (v) => { const o = []; v = BigInt(v); do { let b = Number(v & 0x7fn); v >>= 7n; if (v) b |= 0x80; o.push(b); } while (v); return o; };
  const cat = (parts) => { const n = parts.reduce((s, p) => s + p.length, 0); const o = new Uint8Array(n); let i = 0; for (const p of parts) { o.set(p, i); i += p.length; } return o; };
  const field = (no, wire) => varint((no << 3) | wire);
  const int = (no, v) => cat([field(no, 0), varint(v)]);
  const bytes = (no, b) => cat([field(no, 2), varint(b.length), b]);
  const str = (no, s) => bytes(no, enc.encode(s));
  const msg = (no, ...parts) => bytes(no, cat(parts));
  const tensor = (name, t) => msg(5, ...t.shape.map((d) => int(1, d)), int(2, 1), str(8, name),
                                  bytes(9, new Uint8Array(t.data.buffer)));
  const node = (op, inputs, outputs, ...attrs) => msg(1, ...inputs.map((s) => str(1, s)),
                                                     ...outputs.map((s) => str(2, s)), str(4, op), ...attrs);
  const valueInfo = (no, name, elem, dims) => msg(no, str(1, name),
    msg(2, msg(1, int(1, elem), msg(2, ...dims.map((d) => (typeof d === 'string' ? msg(1, str(2, d)) : msg(1, int(1, d))))))));
  const scale = { shape: [], data: new Float32Array([1 / 255]) };
  const graph = cat([
    node('Cast', ['pixels'], ['xf'], msg(5, str(1, 'to'), int(3, 1), int(20, 2))), // to FLOAT
    node('Mul', ['xf', 'scale'], ['x']),
    node('Gemm', ['x', 'd1_w', 'd1_b'], ['h0']),
    node('Relu', ['h0'], ['h']),
    node('Gemm', ['h', 'd2_w', 'd2_b'], ['logits']),
    str(2, 'mnist_mlp'),
    tensor('scale', scale), tensor('d1_w', W.d1_w), tensor('d1_b', W.d1_b),
    tensor('d2_w', W.d2_w), tensor('d2_b', W.d2_b),
    valueInfo(11, 'pixels', 2 /* UINT8 */, ['N', PIXELS]),
    valueInfo(12, 'logits', 1 /* FLOAT */, ['N', CLASSES]),
  ]);
  return cat([int(1, 8), msg(8, str(1, ''), int(2, 13)), str(2, 'minitensor bench'), msg(7, graph)]);
}

async function ortWasm() {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.logLevel = 'error';
  const session = await ort.InferenceSession.create(onnxModel(), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  return {
    name: 'ort-wasm', version: `${ort.env.versions?.web ?? '?'} (wasm, 1 thread)`,
    async: true,
    run: async (px, n) => (await session.run({ pixels: new ort.Tensor('uint8', px, [n, PIXELS]) })).logits.data,
  };
}

// ---- timing ------------------------------------------------------------------------
async function call(e, px, n) { return e.async ? e.run(px, n) : e.run(px, n); }

async function validate(e) {
  let worst = 0;
  for (const bs of [BIG, 1]) {
    for (let i = 0; i < N; i += bs) {
      const n = Math.min(bs, N - i);
      const logits = await call(e, images.subarray(i * PIXELS, (i + n) * PIXELS), n);
      for (let j = 0; j < n * CLASSES; j++) worst = Math.max(worst, Math.abs(logits[j] - tfRef[i * CLASSES + j]));
    }
  }
  if (!(worst <= TOL)) throw new Error(`${e.name}: logits differ from TensorFlow's by ${worst}`);
  return worst;
}

async function timeBatch(e, n) {
  const inputs = [0, 1, 2, 3].map((k) => images.slice(k * n * PIXELS % (N * PIXELS - n * PIXELS + 1), undefined).subarray(0, n * PIXELS));
  let iters = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 300 || iters < 5) { await call(e, inputs[iters % 4], n); iters++; } // warm-up
  iters = Math.max(3, Math.round(iters / 6)); // ~50 ms per repetition
  const perCall = [];
  for (let r = 0; r < REPS; r++) {
    const t = performance.now();
    if (e.async) for (let i = 0; i < iters; i++) await e.run(inputs[i % 4], n);
    else for (let i = 0; i < iters; i++) e.run(inputs[i % 4], n);
    perCall.push((1000 * (performance.now() - t)) / iters);
  }
  perCall.sort((a, b) => a - b);
  return perCall[REPS >> 1];
}

const results = [];
console.log(`Node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} CPUs, load ${os.loadavg()[0].toFixed(2)}; one thread per engine`);
console.log('engine       batch-1 µs/image   batch-256 µs   images/s   max|Δ TF|   version');
const engines = { minitensor, 'tfjs-wasm': tfjsWasm, 'ort-wasm': ortWasm };
for (const [name, make] of Object.entries(engines)) {
  if (only && !only.includes(name)) continue;
  let e;
  try {
    e = await make();
  } catch (err) {
    console.log(`${name}: cannot load: ${err.message}`);
    process.exitCode = 1;
    continue;
  }
  let diff, b1, b256;
  try {
    diff = await validate(e);
    b1 = await timeBatch(e, 1);
    b256 = await timeBatch(e, BIG);
  } catch (err) {
    console.log(`${e.name}: ${err.stack}`);
    process.exitCode = 1;
    continue;
  }
  const r = { engine: e.name, version: e.version, batch1_us: +b1.toFixed(2), batch256_us: +b256.toFixed(1),
              batch256_images_per_s: Math.round((BIG * 1e6) / b256), max_abs_diff_tf: diff };
  results.push(r);
  console.log(`${e.name.padEnd(12)} ${b1.toFixed(2).padStart(16)} ${b256.toFixed(0).padStart(14)} ${String(r.batch256_images_per_s).padStart(10)}   ${diff.toExponential(1).padStart(8)}   ${e.version}`);
}
const file = opt('--json');
if (file) {
  writeFileSync(file, JSON.stringify({ node: process.version, cpu: os.cpus()[0].model, cpus: os.cpus().length,
                                       load: os.loadavg()[0], date: new Date().toISOString(), results }, null, 2) + '\n');
  console.log(`results: ${file}`);
}
