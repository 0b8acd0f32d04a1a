// @ts-check
// @shadowkv/sparse-select needs a KernelBackend for decode-time selection: here the CPU one (@shadowkv/kernels-cpu).
import { cpu } from '@shadowkv/kernels-cpu';
import { selectTokens, tokenScores } from '@shadowkv/sparse-select';

const backend = cpu();
const nHeads = 2, nKvHeads = 1, headDim = 4, kvLen = 6;
const q = backend.upload(new Float32Array([1, 0, 0, 0, 0, 1, 0, 0]), [1, nHeads * headDim]);
// keys [nKvHeads, kvLen, headDim]: token 2 matches head 0's query, token 5 head 1's
const k = new Float32Array(nKvHeads * kvLen * headDim);
k[2 * headDim + 0] = 3;
k[5 * headDim + 1] = 3;
const keys = backend.upload(k, [nKvHeads, kvLen, headDim]);
const scores = tokenScores(backend, q, keys, kvLen, nHeads, 1 / Math.sqrt(headDim)); // [nKvHeads, kvLen]
const top = selectTokens(backend, scores, 2); // KCache: the 2 tokens with the most attention
console.log('selected tokens', Array.from(await backend.read(top)).sort());
