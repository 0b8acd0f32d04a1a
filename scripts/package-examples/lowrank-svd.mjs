// @ts-check
// @shadowkv/lowrank-svd: truncated SVD of a tall matrix (pre-RoPE keys), plain TypeScript, no dependencies.
import { lowRankFactors, randomizedSvd, reconstructionError } from '@shadowkv/lowrank-svd';

const rows = 2000, cols = 64;
// A rank-4 matrix plus a little noise.
const a = new Float32Array(rows * cols);
for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) a[i * cols + j] = Math.sin(i * 0.01 * (1 + (j % 4))) + 1e-3 * Math.cos(i * j);
const svd = randomizedSvd(a, rows, cols, { rank: 8 });
const { a: u, b } = lowRankFactors(svd); // u [rows, 8], b = S·Vᵀ [8, cols]
console.log('singular values', Array.from(svd.s.slice(0, 5), (s) => s.toFixed(2)).join(' '));
console.log('factors', u.length / rows, 'x', b.length / 8, 'relative error', reconstructionError(a, rows, cols, svd).toExponential(2));
