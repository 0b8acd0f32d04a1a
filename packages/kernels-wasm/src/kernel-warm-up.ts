// Runs the kernels a decode step (and the first prefill chunk) uses on small problems once per compiled module, so
// that the engine's optimising tier compiles them before a model's first tokens. V8 (Node, Chrome) starts a
// module in its baseline compiler (Liftoff) and tiers a function up only after it has run a while; measured on
// needle-llama at 4K (bench/decode-step.ts --first), the first ~20 decode steps ran at 1.5-2x the later ones
// because each GEMV kernel is called only a few times per step, and a short generation (bench speed's 32 tokens)
// spent most of its steps there. The warm-up calls each kernel (ShadowKV's sparse ones too) on zeros in memory no
// tensor uses yet.
import type { KernelMemory } from './wasm-allocator.js';

type KernelFn = (...args: number[]) => void;

/** Modules already warmed (tiering is per compiled module, shared by every instance and worker of it). */
const warmed = new WeakSet<object>();

/** Bytes of memory the warm-up uses, from `base` (grown when the memory is smaller). */
export const WARM_UP_BYTES = 3 << 20;

/**
 * Calls the kernels of `exports` (an instance of `module` on `memory`) on zero inputs in
 * [base, base + WARM_UP_BYTES) until each has run about `rounds` problems' worth; does nothing for a module already
 * warmed. Results are garbage and are not read; the memory there is free for tensors afterwards.
 */
export function warmUpKernels(module: object, exports: object, memory: KernelMemory, base: number, rounds = 200): void {
  if (warmed.has(module)) return;
  warmed.add(module);
  const have = memory.buffer.byteLength;
  if (base + WARM_UP_BYTES > have) memory.grow(Math.ceil((base + WARM_UP_BYTES - have) / 65536));
  new Uint8Array(memory.buffer, base, WARM_UP_BYTES).fill(0);
  const f = exports as Record<string, KernelFn>;
  // Layout (bytes from base): x 4K, out 16K, aux/residual 16K, w 128K, wUp 128K, K 128K, V 128K, scratch 64K, ids 1K;
  // the GEMM's panels from 1 MiB.
  const x = base, out = x + 4096, aux = out + 16384, w = aux + 16384, wUp = w + 131072, kc = wUp + 131072;
  const vc = kc + 131072, scratch = vc + 131072, ids = scratch + 65536;
  const k = 256, n = 128; // GEMV [1, 256] x [128, 256]: bf16 weights 64 KiB, f32 128 KiB
  const f32 = 0;
  // bf16 weights in both layouts (the default rows4, code 2 | 4, and row-major; weight-layout.ts).
  const bf16Of = (r: number) => (r & 2 ? 2 : 6);
  const kv = 256, d = 64; // attention: 2 KV heads x 256 keys x 64 (128 KiB each of K and V)
  for (let r = 0; r < rounds; r++) {
    const bf16 = bf16Of(r);
    f.gemv(out, x, w, bf16, 1, n, k, r & 1 ? aux : 0, 1e-5, scratch, 4096, 0, 1);
    f.gemv(out, x, w, f32, 1, n, k, 0, 0, scratch, 4096, 0, 1);
    f.gemvAdd(out, x, w, aux, bf16, 1, n, k, scratch, 4096, 0, 1);
    f.gemvSwiglu(out, x, w, wUp, bf16, 1, n, k, r & 1 ? aux : 0, 1e-5, scratch, 4096, 0, 1);
    // Decode attention: GQA group 2 (the two-row path) and 4 (the four-row path), 2 KV heads.
    f.attention(out, x, kc, vc, 1, 4, 2, d, kv, kv, 1, kv - 1, 0.125, scratch, 8192, 0, 1);
    f.attention(out, x, kc, vc, 1, 8, 2, d, kv, kv, 1, kv - 1, 0.125, scratch, 8192, 0, 1);
    f.rmsNorm(out, x, aux, 1, k, 1e-5, 0, 1);
    f.rope(out, x, ids, 1, 4, d / 2, w, wUp, 0, 0, 0, 1);
    f.embedding(out, w, bf16, ids, 1, k, 0, 1);
    f.writeKv(kc, x, 1, 2, kv, d, r % kv);
    f.add(out, x, aux, 1024, 0, 1);
    f.swiglu(out, x, aux, 1024, 0, 1);
    f.softmaxRows(out, x, 1, 1024, 0, 1);
  }
  // ShadowKV's sparse kernels (another owner's signatures: a call that no longer fits is skipped, never fatal; the
  // test calls them and fails instead). Their outputs go to the third MiB of the region.
  const big = base + (2 << 20);
  try {
    for (let r = 0; r < rounds; r++) {
      f.rebuildKeys(big, kc, vc, ids, 32, 2, d, 16, 8, 0, w, wUp, 0, 0, 0, 1);
      f.landmarkScores(out, x, kc, 4, 2, kv, d, 0.125, scratch, 8192, 0, 1);
      f.topK(out, x, 2, 512, 16, scratch, 8192, 0, 1);
      f.copyChunks(kc, big, ids, 2, kv, d, 16, 8, r & 1, 0, 1);
    }
  } catch {
    // see above
  }
  // The prefill GEMM: a few 8-row problems (its micro-kernel is a separate function); its scratch (packed panels,
  // gemmScratchBytes(): 1 MiB + 32) sits in the second MiB of the region.
  for (let r = 0; r < Math.max(1, rounds >> 3); r++) f.gemm(out, x, w, bf16Of(r), 8, 16, k, 0, base + (1 << 20), 0, 0, 1);
}
