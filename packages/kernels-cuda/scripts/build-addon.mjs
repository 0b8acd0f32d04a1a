#!/usr/bin/env node
// Builds the CUDA addon: nvcc compiles native/kernels/*.cu for the target architectures (sm_80 and sm_90 by
// default, SHADOWKV_CUDA_ARCHS="80,90" to change) into native/build/cuda/libskv_kernels.a, then node-gyp compiles
// the Node-API glue and links native/build/Release/shadowkv_cuda.node. Without nvcc it prints one line and exits 0: the
// package still imports, and cuda() reports the missing addon. Objects newer than their sources are kept.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tag = '[@shadowkv/kernels-cuda]';
const started = performance.now();

function findNvcc() {
  // NVCC=path picks the compiler (a path that does not exist means "no nvcc", which the tests use).
  if (process.env.NVCC) return existsSync(process.env.NVCC) ? process.env.NVCC : undefined;
  const candidates = [];
  if (process.env.CUDA_HOME) candidates.push(join(process.env.CUDA_HOME, 'bin', 'nvcc'));
  candidates.push('/usr/local/cuda/bin/nvcc');
  for (const c of candidates) if (existsSync(c)) return c;
  try {
    return execFileSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

const nvcc = findNvcc();
if (!nvcc) {
  console.log(`${tag} nvcc not found (set CUDA_HOME or put nvcc on PATH): skipping the CUDA addon build; cuda() will say the addon is missing.`);
  process.exit(0);
}
const cudaHome = dirname(dirname(nvcc));
const archs = (process.env.SHADOWKV_CUDA_ARCHS ?? '80,90').split(',').map((a) => a.trim()).filter(Boolean);
const gencode = archs.flatMap((a) => ['-gencode', `arch=compute_${a},code=sm_${a}`]);
// PTX of the newest architecture too, so that a newer GPU can JIT-compile the kernels.
gencode.push('-gencode', `arch=compute_${archs[archs.length - 1]},code=compute_${archs[archs.length - 1]}`);

const kernelsDir = join(root, 'native', 'kernels');
const nativeDir = join(root, 'native');
const outDir = join(nativeDir, 'build', 'cuda');
mkdirSync(outDir, { recursive: true });
const headers = readdirSync(kernelsDir).filter((f) => f.endsWith('.h') || f.endsWith('.cuh')).map((f) => statSync(join(kernelsDir, f)).mtimeMs);
const newestHeader = Math.max(0, ...headers);
const sources = readdirSync(kernelsDir).filter((f) => f.endsWith('.cu')).sort();

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', ...opts });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

const jobs = Math.max(1, Math.min(4, availableParallelism()));
const queue = sources.filter((f) => {
  const obj = join(outDir, f.replace(/\.cu$/, '.o'));
  return !existsSync(obj) || statSync(obj).mtimeMs < Math.max(statSync(join(kernelsDir, f)).mtimeMs, newestHeader);
});
console.log(`${tag} nvcc ${nvcc} for sm_${archs.join(', sm_')}: ${queue.length} of ${sources.length} kernel files to compile, ${jobs} at a time`);
let failed;
async function worker() {
  while (queue.length > 0 && !failed) {
    const f = queue.shift();
    const t = performance.now();
    try {
      await run(nvcc, ['-std=c++17', '-O3', '-Xcompiler', '-fPIC', ...gencode, '-c', join(kernelsDir, f), '-o', join(outDir, f.replace(/\.cu$/, '.o'))]);
      console.log(`${tag}   ${f} ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } catch (e) {
      failed = e;
    }
  }
}
await Promise.all(Array.from({ length: jobs }, worker));
if (failed) {
  console.error(`${tag} kernel compilation failed: ${failed.message}`);
  process.exit(1);
}
const objects = sources.map((f) => join(outDir, f.replace(/\.cu$/, '.o')));
await run('ar', ['rcs', join(outDir, 'libskv_kernels.a'), ...objects]);
const kernelsSeconds = (performance.now() - started) / 1000;

// node-gyp, in native/: the system's Node headers when present (no download: this machine reaches only the registries).
const nodeGyp = join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
// configure + build, not rebuild: rebuild starts by deleting build/, where the kernel library lives.
const nodedir = [];
const systemHeaders = join(dirname(dirname(process.execPath)), 'include', 'node', 'node_api.h');
if (!process.env.npm_config_nodedir && existsSync(systemHeaders)) nodedir.push(`--nodedir=${dirname(dirname(dirname(systemHeaders)))}`);
try {
  const env = { ...process.env, CUDA_HOME: cudaHome };
  await run(process.execPath, [nodeGyp, 'configure', ...nodedir], { cwd: nativeDir, env });
  await run(process.execPath, [nodeGyp, 'build', `--jobs=${jobs}`, ...nodedir], { cwd: nativeDir, env });
} catch (e) {
  console.error(`${tag} node-gyp failed: ${e.message}`);
  process.exit(1);
}
const total = (performance.now() - started) / 1000;
console.log(`${tag} built native/build/Release/shadowkv_cuda.node in ${total.toFixed(1)} s (kernels ${kernelsSeconds.toFixed(1)} s, glue and link ${(total - kernelsSeconds).toFixed(1)} s)`);
