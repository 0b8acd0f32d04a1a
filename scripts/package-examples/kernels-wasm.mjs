// @ts-check
// @shadowkv/kernels-wasm: the WebAssembly SIMD + threads KernelBackend, with a bf16 weight operand.
import { wasm } from '@shadowkv/kernels-wasm';

const backend = await wasm({ threads: 2 });
const x = backend.upload(new Float32Array([1, 2, 3, 4]), [1, 4]); // [m, k]
// [n, k] weights as raw bf16 bits (0x3f80 = 1.0): the rows pick x[0] and x[1]
const w = backend.upload(new Uint16Array([0x3f80, 0, 0, 0, 0, 0x3f80, 0, 0]), [2, 4], 'bf16');
const y = backend.matmul(x, w); // x · wᵀ = [[1, 2]], accumulated in f32
console.log('matmul', Array.from(await backend.read(y)), 'threads', backend.threads);
backend.destroy();
