// minitensor-mnist.js — the MNIST classifier of minitensor-mnist.wasm as an
// ES module, for Node (>= 18) and browsers.
//
//   import { load } from './minitensor-mnist.js';
//   const mnist = await load();                // the .wasm next to this file
//   const { digit, probs } = mnist.classify(pixels);   // 784 bytes
//   const { digits, probs, logits } = mnist.classifyBatch(images); // n×784
//
// Pixels are 28×28 bytes, row-major, 0 = background, 255 = ink (white digit
// on black, as MNIST). The module has no imports (no WASI), so it runs
// wherever WebAssembly with SIMD128 does. A classifier is synchronous and
// single-threaded; in a worker pool, load one per worker.
//
// The ABI underneath is documented in wasm/minitensor_mnist.h.

export const IMAGE_BYTES = 784;
export const CLASSES = 10;
const ABI_VERSION = 1;
// Images per call into the module: bounds its memory (~2.4 MB, as the Go
// binding's chunks) whatever the batch, and keeps the byte counts given to
// mnist_alloc (an int32) far from overflowing.
const CHUNK = 1024;

const defaultWasm = () => new URL('./minitensor-mnist.wasm', import.meta.url);

// Bytes or a compiled module from whatever the caller gave.
async function compile(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source))
    return WebAssembly.compile(source);
  if (typeof Response !== 'undefined' && source instanceof Response)
    return compileResponse(source);
  const url = source instanceof URL ? source : new URL(String(source), baseUrl());
  if (url.protocol === 'file:') { // Node: fetch() cannot read files
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok)
    throw new Error(`minitensor-mnist: cannot load ${url}: HTTP ${response.status}`);
  return compileResponse(response);
}

function baseUrl() {
  if (typeof location !== 'undefined') return location.href;
  return `file://${process.cwd()}/`;
}

async function compileResponse(response) {
  // Streaming needs Content-Type: application/wasm; fall back otherwise.
  if (WebAssembly.compileStreaming &&
      response.headers.get('content-type')?.startsWith('application/wasm')) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

// ArrayBuffer.prototype.detached is newer than Node 20; a detached buffer
// cannot be viewed.
function isDetached(buffer) {
  if ('detached' in ArrayBuffer.prototype) return buffer.detached;
  try { new Uint8Array(buffer); return false; } catch { return true; }
}

function readCString(memory, ptr) {
  const bytes = new Uint8Array(memory.buffer, ptr);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? 0 : end));
}

// One instance of the module: synchronous classify calls. Create with load().
export class Classifier {
  #x;          // the instance's exports
  #capacity = 0; // images the buffers hold
  #trapped = null; // the trap that broke this instance
  #pixels = 0; #logits = 0; #probs = 0; #digits = 0; // pointers

  constructor(instance) {
    this.#x = instance.exports;
    if (typeof this.#x._initialize === 'function') this.#x._initialize();
    const abi = this.#x.mnist_abi_version();
    if (abi !== ABI_VERSION)
      throw new Error(`minitensor-mnist: module ABI ${abi}, this binding speaks ${ABI_VERSION}`);
    /** minitensor version the module was built from, e.g. "0.1.0". */
    this.version = readCString(this.#x.memory, this.#x.mnist_version());
    /** the matmul kernel, e.g. "native wasm-simd128 6x8". */
    this.backend = readCString(this.#x.memory, this.#x.mnist_backend());
    this.#reserve(1);
  }

  #reserve(n) {
    if (n <= this.#capacity) return;
    const x = this.#x;
    const cap = Math.min(Math.max(n, 2 * this.#capacity), CHUNK);
    for (const p of [this.#pixels, this.#logits, this.#probs, this.#digits]) x.mnist_free(p);
    this.#pixels = x.mnist_alloc(cap * IMAGE_BYTES);
    this.#logits = x.mnist_alloc(cap * CLASSES * 4);
    this.#probs = x.mnist_alloc(cap * CLASSES * 4);
    this.#digits = x.mnist_alloc(cap * 4);
    if (!this.#pixels || !this.#logits || !this.#probs || !this.#digits) {
      this.#capacity = 0;
      throw new RangeError(`minitensor-mnist: out of memory for a batch of ${n} images`);
    }
    this.#capacity = cap;
  }

  // The type first: null, an ArrayBuffer or a DataView is a TypeError, not
  // "got undefined" pixels; a detached buffer reads as length 0, which
  // would otherwise be "0 images" or a wrong size.
  static #check(pixels, what) {
    if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray))
      throw new TypeError(`minitensor-mnist: ${what} wants a Uint8Array or ` +
                          `Uint8ClampedArray of pixels, got ${Object.prototype.toString.call(pixels)}`);
    if (pixels.length === 0 && isDetached(pixels.buffer))
      throw new TypeError(`minitensor-mnist: ${what}: the pixels' ArrayBuffer is detached ` +
                          '(transferred to a worker or structuredClone?)');
  }

  #run(pixels, n) {
    if (this.#trapped)
      throw new Error(`minitensor-mnist: this instance trapped (${this.#trapped.message}); load() a new one`);
    const x = this.#x;
    const out = { digits: new Int32Array(n), probs: new Float32Array(n * CLASSES),
                  logits: new Float32Array(n * CLASSES) };
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      this.#reserve(m);
      new Uint8Array(x.memory.buffer, this.#pixels, m * IMAGE_BYTES)
        .set(pixels.subarray(i * IMAGE_BYTES, (i + m) * IMAGE_BYTES));
      let rc;
      try {
        rc = x.mnist_classify(this.#pixels, m, this.#logits, this.#probs, this.#digits);
      } catch (e) {
        // A trap unwinds past the module's own cleanup (its stack pointer,
        // a half-updated heap): the next call could loop or misread.
        if (e instanceof WebAssembly.RuntimeError) this.#trapped = e;
        throw e;
      }
      if (rc !== 0)
        throw new Error(`minitensor-mnist: ${readCString(x.memory, x.mnist_error())}`);
      const buf = x.memory.buffer; // after the call: the memory may have grown
      out.digits.set(new Int32Array(buf, this.#digits, m), i);
      out.probs.set(new Float32Array(buf, this.#probs, m * CLASSES), i * CLASSES);
      out.logits.set(new Float32Array(buf, this.#logits, m * CLASSES), i * CLASSES);
    }
    return out;
  }

  /** One image of 784 bytes -> { digit, probs: Float32Array(10), logits }. */
  classify(pixels) {
    Classifier.#check(pixels, 'classify');
    if (pixels.length !== IMAGE_BYTES)
      throw new RangeError(`minitensor-mnist: classify wants ${IMAGE_BYTES} pixels ` +
                           `(28×28), got ${pixels.length}`);
    const r = this.#run(pixels, 1);
    return { digit: r.digits[0], probs: r.probs, logits: r.logits };
  }

  /** n images, n×784 bytes -> { digits: Int32Array(n), probs, logits:
   *  Float32Array(n×10) }. */
  classifyBatch(images) {
    Classifier.#check(images, 'classifyBatch');
    const len = images.length;
    if (len % IMAGE_BYTES !== 0)
      throw new RangeError(`minitensor-mnist: classifyBatch wants a multiple of ` +
                           `${IMAGE_BYTES} pixels (n×28×28), got ${len}`);
    return this.#run(images, len / IMAGE_BYTES);
  }
}

/** Load the module (default: minitensor-mnist.wasm next to this file). source:
 *  a URL or path, bytes, a Response, or a compiled WebAssembly.Module. */
export async function load(source = defaultWasm()) {
  const module = await compile(source);
  const imports = WebAssembly.Module.imports(module);
  if (imports.length)
    throw new Error(`minitensor-mnist: the module imports ${imports.map((i) => `${i.module}.${i.name}`).join(', ')}; ` +
                    'expected none (wrong .wasm?)');
  return new Classifier(await WebAssembly.instantiate(module, {}));
}

let shared;
/** Convenience: classify one image with a classifier loaded on first use. */
export async function classify(pixels) {
  shared ??= load().catch((e) => { shared = undefined; throw e; }); // retry later
  return (await shared).classify(pixels);
}
