// @ts-check
// @shadowkv/kv-offload: values in slow (host) memory, chunk-contiguous per KV head, optionally int8.
import { ValueStore } from '@shadowkv/kv-offload';

const nKvHeads = 2, headDim = 4, chunkSize = 8;
const store = new ValueStore({ nKvHeads, headDim, chunkSize, quantize: 'int8' });
// 20 generated tokens, token-major rows [count, nKvHeads * headDim]
const rows = Float32Array.from({ length: 20 * nKvHeads * headDim }, (_, i) => Math.sin(i));
store.appendTokenMajor(rows, 20);
console.log('tokens', store.length, 'chunks', store.chunkCount, 'full', store.fullChunks, 'bytes', store.bytes);
const chunk = new Float32Array(chunkSize * headDim);
store.readChunk(1, 0, chunk); // head 1, chunk 0 (tokens 0..7), dequantized
console.log('head 1, token 0', Array.from(chunk.slice(0, headDim), (v) => v.toFixed(3)).join(' '));
