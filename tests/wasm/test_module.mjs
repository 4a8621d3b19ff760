// test_module.mjs — minitensor-mnist.wasm in Node, raw and through
// bindings/js:
//   node test_module.mjs MODULE.wasm DATA_DIR
// the module imports nothing and exports the documented ABI; the 1000 test
// digits get TensorFlow's accuracy, logits within 1e-4 of TensorFlow's and,
// with MT_NATIVE_LOGITS=FILE (`mnist eval … --logits FILE`, native build),
// the native predictions and logits within 1e-4; single and batch calls
// agree; bad input gives clear errors. Exit 0 = pass.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const { load, Classifier, IMAGE_BYTES, CLASSES } = await import(
  pathToFileURL(path.join(here, '..', '..', 'bindings', 'js', 'minitensor-mnist.js')));

const [wasmPath, dataDir] = process.argv.slice(2);
const N = 1000, WANT_CORRECT = 957, TOL = 1e-4;
const bytes = readFileSync(wasmPath);
const images = readFileSync(path.join(dataDir, 'test-images-idx3-ubyte')).subarray(16);
const labels = readFileSync(path.join(dataDir, 'test-labels-idx1-ubyte')).subarray(8);
const f32 = (file) => { const b = readFileSync(file); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
const tf = f32(path.join(dataDir, 'test-logits.f32'));
assert.equal(images.length, N * IMAGE_BYTES);
assert.equal(tf.length, N * CLASSES);

let failures = 0;
async function test(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

function maxDiff(a, b) {
  let worst = 0, at = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) { worst = d; at = i; }
  }
  return [worst, Math.floor(at / CLASSES)];
}

const argmax = (row) => row.reduce((best, v, j) => (v > row[best] ? j : best), 0);

await test('no imports, the documented exports', async () => {
  const module = await WebAssembly.compile(bytes);
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  const exports = WebAssembly.Module.exports(module).map((e) => e.name).sort();
  assert.deepEqual(exports, ['_initialize', 'memory', 'mnist_abi_version', 'mnist_alloc',
    'mnist_backend', 'mnist_classify', 'mnist_error', 'mnist_free', 'mnist_version']);
});

await test('raw ABI: instantiate with {}, errors, n = 0', async () => {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const x = instance.exports;
  x._initialize();
  assert.equal(x.mnist_abi_version(), 1);
  const str = (p) => { const m = new Uint8Array(x.memory.buffer, p); return new TextDecoder().decode(m.subarray(0, m.indexOf(0))); };
  assert.match(str(x.mnist_backend()), /wasm-simd128/, 'the SIMD128 kernel is compiled in');
  assert.equal(x.mnist_alloc(0), 0);
  assert.equal(x.mnist_alloc(-5), 0);
  assert.equal(x.mnist_alloc(2 ** 31 - 1), 0, 'an impossible allocation fails cleanly');
  const px = x.mnist_alloc(IMAGE_BYTES);
  assert.equal(px % 16, 0);
  assert.notEqual(x.mnist_classify(px, -1, 0, 0, 0), 0);
  assert.match(str(x.mnist_error()), /mnist_classify: n = -1, expected/);
  assert.notEqual(x.mnist_classify(0, 3, 0, 0, 0), 0);
  assert.match(str(x.mnist_error()), /images NULL for n/);
  assert.equal(x.mnist_classify(px, 0, 0, 0, 0), 0);
  assert.equal(x.mnist_classify(px, 1, 0, 0, 0), 0, 'all outputs optional');
  x.mnist_free(px);
  x.mnist_free(0);
});

const mnist = await load(bytes);
const batch = mnist.classifyBatch(images);

await test(`all ${N} digits: accuracy and logits vs TensorFlow`, () => {
  const correct = batch.digits.reduce((s, d, i) => s + (d === labels[i]), 0);
  assert.equal(correct, WANT_CORRECT);
  const [diff, at] = maxDiff(batch.logits, tf);
  assert.ok(diff <= TOL, `logits differ from TensorFlow's by ${diff} (image ${at})`);
  for (let i = 0; i < N; i++) {
    const p = batch.probs.subarray(i * CLASSES, (i + 1) * CLASSES);
    const l = batch.logits.subarray(i * CLASSES, (i + 1) * CLASSES);
    assert.ok(Math.abs(p.reduce((s, v) => s + v, 0) - 1) < 1e-5);
    assert.equal(batch.digits[i], argmax(l));
  }
  console.log(`     ${correct}/${N} correct, max |logit - TensorFlow| = ${diff.toExponential(2)}`);
});

await test('native: same predictions, logits within 1e-4', () => {
  const file = process.env.MT_NATIVE_LOGITS;
  if (!file) {
    console.log('     MT_NATIVE_LOGITS not set: skipped (tests/wasm/run_all.sh sets it)');
    return;
  }
  const native = f32(file);
  assert.equal(native.length, N * CLASSES);
  let same = 0;
  for (let i = 0; i < N; i++)
    same += batch.digits[i] === argmax(native.subarray(i * CLASSES, (i + 1) * CLASSES));
  const [diff, at] = maxDiff(batch.logits, native);
  assert.equal(same, N, `${N - same} predictions differ from native`);
  assert.ok(diff <= TOL, `logits differ from native by ${diff} (image ${at})`);
  console.log(`     same prediction as native on ${same}/${N}, max |logit - native| = ${diff.toExponential(2)}`);
});

await test('classify (one image) agrees with classifyBatch', () => {
  for (let i = 0; i < N; i++) {
    const r = mnist.classify(images.subarray(i * IMAGE_BYTES, (i + 1) * IMAGE_BYTES));
    assert.equal(r.digit, batch.digits[i], `image ${i}`);
    const [diff] = maxDiff(r.logits, batch.logits.subarray(i * CLASSES, (i + 1) * CLASSES));
    assert.ok(diff <= 1e-5, `image ${i}: single vs batch logits differ by ${diff}`);
  }
});

await test('input errors', () => {
  assert.throws(() => mnist.classify(new Uint8Array(783)), /classify wants 784 pixels \(28×28\), got 783/);
  assert.throws(() => mnist.classify([1, 2, 3]), { name: 'TypeError', message: /Uint8Array.*got \[object Array\]/ });
  assert.throws(() => mnist.classify(new Float32Array(784)), /Uint8Array/);
  // the type before the size: not "got undefined" pixels, nor a size error
  // for 196 floats (784 bytes)
  for (const bad of [null, undefined, new ArrayBuffer(784), new DataView(new ArrayBuffer(784))]) {
    assert.throws(() => mnist.classify(bad), { name: 'TypeError', message: /classify wants a Uint8Array/ });
    assert.throws(() => mnist.classifyBatch(bad), { name: 'TypeError', message: /classifyBatch wants a Uint8Array/ });
  }
  assert.throws(() => mnist.classifyBatch(new Float32Array(196)), { name: 'TypeError' });
  // a buffer transferred away reads as length 0: an error, not "0 images"
  const moved = new Uint8Array(2 * IMAGE_BYTES);
  structuredClone(moved.buffer, { transfer: [moved.buffer] });
  assert.throws(() => mnist.classify(moved), { name: 'TypeError', message: /detached/ });
  assert.throws(() => mnist.classifyBatch(moved), { name: 'TypeError', message: /detached/ });
  // SharedArrayBuffer pixels are ordinary input
  const shared = new Uint8Array(new SharedArrayBuffer(IMAGE_BYTES));
  shared.set(images.subarray(0, IMAGE_BYTES));
  assert.equal(mnist.classify(shared).digit, batch.digits[0]);
  assert.throws(() => mnist.classifyBatch(new Uint8Array(785)), /multiple of 784 pixels.*got 785/);
  assert.equal(mnist.classifyBatch(new Uint8Array(0)).digits.length, 0);
  assert.equal(mnist.classify(new Uint8ClampedArray(784)).probs.length, 10);
});

await test('a batch of several chunks; later calls still agree', () => {
  const big = new Uint8Array(5 * N * IMAGE_BYTES);
  for (let k = 0; k < 5; k++) big.set(images, k * N * IMAGE_BYTES);
  const r = mnist.classifyBatch(big);
  for (let k = 0; k < 5; k++)
    assert.deepEqual(r.digits.subarray(k * N, (k + 1) * N), batch.digits);
  assert.equal(mnist.classify(images.subarray(0, IMAGE_BYTES)).digit, batch.digits[0]);
});

await test('a huge batch runs in chunks: the memory stays bounded, results agree', async () => {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const own = new Classifier(instance);
  const k = 20;
  const big = new Uint8Array(k * N * IMAGE_BYTES);
  for (let j = 0; j < k; j++) big.set(images, j * N * IMAGE_BYTES);
  const r = own.classifyBatch(big);
  for (let j = 0; j < k; j++) {
    assert.deepEqual(r.digits.subarray(j * N, (j + 1) * N), batch.digits);
    const [diff] = maxDiff(r.logits.subarray(j * N * CLASSES, (j + 1) * N * CLASSES), batch.logits);
    assert.ok(diff <= 1e-5, `copy ${j}: logits differ from the 1000-image batch by ${diff}`);
  }
  // the 20,000 images are 15.7 MB; in chunks of 1024 the module needs ~3 MB
  const mb = instance.exports.memory.buffer.byteLength / 2 ** 20;
  assert.ok(mb < 4, `the module's memory grew to ${mb} MB for a batch of ${k * N}`);
});

await test('an instance that trapped refuses later calls', async () => {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const exports = { ...instance.exports, mnist_classify: () => { throw new WebAssembly.RuntimeError('unreachable'); } };
  const own = new Classifier({ exports });
  assert.throws(() => own.classify(images.subarray(0, IMAGE_BYTES)), WebAssembly.RuntimeError);
  assert.throws(() => own.classify(images.subarray(0, IMAGE_BYTES)), /this instance trapped \(unreachable\); load\(\) a new one/);
});

console.log(failures ? `${failures} failure(s)` : `all passed (${mnist.backend})`);
process.exitCode = failures ? 1 : 0;
