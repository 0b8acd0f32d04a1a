// @ts-check
// @shadowkv/kernels-cpu: the reference KernelBackend in plain TypeScript.
import { cpu } from '@shadowkv/kernels-cpu';

const backend = cpu();
const x = backend.upload(new Float32Array([1, 2, 3]), [1, 3]); // [m, k]
const w = backend.upload(new Float32Array([1, 0, 0, 0, 1, 1]), [2, 3]); // [n, k], Hugging Face Linear layout
const y = backend.matmul(x, w); // x · wᵀ = [[1, 5]]
console.log('matmul', Array.from(await backend.read(y)));
const top = backend.topK(backend.upload(new Float32Array([0.1, 0.9, 0.5, 0.7]), [1, 4]), 2);
console.log('topK', Array.from(await backend.read(top)));
