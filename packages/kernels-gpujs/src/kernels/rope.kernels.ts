// gpu.js sources of the RoPE kernels: rope over [m, nHeads*headDim] and the low-rank key rebuild fused with
// RoPE. Both reduce the angle modulo 2π themselves (Cody-Waite, 2π split into an exactly representable
// 6.28125 and a small remainder): GLSL sin/cos lose accuracy far outside [-π, π], and positions reach 131071.
import { CHUNK_OF_ROW, headRowElement } from './chunk-rows.js';

/**
 * Statements that turn \`ang\` into \`cs\` and \`sn\` (cos and sin times \`scaling\`). q * 6.28125 is exact in
 * f32 for q < 2^15 (angles below ~2e5 radians), so the reduction adds no error beyond that of \`ang\` itself.
 */
const ROTATION = `
  const q = Math.floor(ang * 0.15915494309189535 + 0.5);
  const red = (ang - q * 6.28125) - q * 0.0019353071795864769;
  const cs = Math.cos(red) * scaling;
  const sn = Math.sin(red) * scaling;`;

/** Rotate-half RoPE: element e of a head pairs with e ± headDim/2; row i uses position pos[i]. width = nHeads*headDim. */
export const ROPE = `function(x, pos, invFreq, scaling, width, headDim) {
  const half = headDim / 2;
  const t = this.thread.x + 0.5;
  const row = Math.floor(t / width);
  const inRow = t - row * width;
  const head = Math.floor(inRow / headDim);
  const e = Math.floor(inRow - head * headDim);
  let pair = e;
  let partner = this.thread.x + half;
  let sign = -1;
  if (e >= half) {
    pair = e - half;
    partner = this.thread.x - half;
    sign = 1;
  }
  const ang = pos[row] * invFreq[pair];${ROTATION}
  return x[this.thread.x] * cs + sign * x[partner] * sn;
}`;

/**
 * out[h, s*chunkSize + j, e] = rope(a[t] · b[h], t + positionOffset)[e] for token t = idx[h, s]*chunkSize + j.
 * Each thread computes the two pre-RoPE elements it rotates together (e and its partner), rank products each.
 * Loop constants: rankMax.
 */
export const REBUILD_KEYS = `function(a, b, idx, invFreq, positionOffset, scaling, nSel, chunkSize, rank, headDim) {
  const half = headDim / 2;${headRowElement('nSel * chunkSize')}${CHUNK_OF_ROW}
  const token = idx[g * nSel + chunk] * chunkSize + j;
  let pair = e;
  let other = e + half;
  let sign = -1;
  if (e >= half) {
    pair = e - half;
    other = e - half;
    sign = 1;
  }
  const ao = token * rank;
  const bo = g * rank * headDim;
  let k1 = 0;
  let k2 = 0;
  for (let p = 0; p < this.constants.rankMax; p++) {
    if (p >= rank) {
      break;
    }
    const av = a[ao + p];
    k1 += av * b[bo + p * headDim + e];
    k2 += av * b[bo + p * headDim + other];
  }
  const ang = (token + positionOffset) * invFreq[pair];${ROTATION}
  return k1 * cs + sign * k2 * sn;
}`;
