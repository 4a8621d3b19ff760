// Runs a WASI command module under Node: node wasi-run.mjs PROGRAM.wasm ARGS…
// The host's file system is visible as-is (preopened "/") so test programs
// can read the files meson passes them (relative paths that exist are made
// absolute, since WASI's working directory is "/"); the exit code is the
// module's. PWD is set to Node's working directory (meson's workdir), since
// WASI has none: a program that wants relative paths there chdir()s to it
// (the cmocka shim, tests/wasm/cmocka_shim/, does).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import path from 'node:path';

const [program, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [program, ...args.map((a) => (!a.startsWith('/') && existsSync(a) ? path.resolve(a) : a))],
  env: { ...process.env, PWD: process.cwd() },
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(await readFile(program));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
