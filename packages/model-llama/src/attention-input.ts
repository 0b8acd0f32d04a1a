// The part of a decoder layer before attention: input RMSNorm, q/k/v projections and RoPE of q and k, with the
// backend's fused ops when it offers them (rmsNormMatmuls: norm + q/k/v; ropeQk: both rotations), otherwise the
// separate ops. Same values either way (the fused ops are specified as exactly the separate ones).
import type { KernelBackend, RopeSpec, Tensor } from '@shadowkv/core';
import type { LlamaConfig } from './config.js';
import type { LayerWeights } from './llama-model.js';

/** A layer's attention inputs for m tokens: q and k after RoPE, k before RoPE (ShadowKV's SVD input), v. */
export interface AttentionInputs {
  q: Tensor; // [m, nHeads*headDim], rotated
  kPre: Tensor; // [m, nKvHeads*headDim]
  k: Tensor; // [m, nKvHeads*headDim], rotated
  v: Tensor; // [m, nKvHeads*headDim]
}

/** x [m, hidden] at positions posT (i32 [m]) → the layer's attention inputs; x is not disposed. */
export function attentionInputs(backend: KernelBackend, x: Tensor, w: LayerWeights, posT: Tensor, c: LlamaConfig, rope: RopeSpec): AttentionInputs {
  let q: Tensor;
  let kPre: Tensor;
  let v: Tensor;
  if (backend.rmsNormMatmuls) {
    [q, kPre, v] = backend.rmsNormMatmuls(x, w.attnNorm, c.rmsNormEps, [w.wq, w.wk, w.wv]);
  } else {
    const h = backend.rmsNorm(x, w.attnNorm, c.rmsNormEps);
    q = backend.matmul(h, w.wq);
    kPre = backend.matmul(h, w.wk);
    v = backend.matmul(h, w.wv);
    backend.dispose(h);
  }
  const [qr, kr] = backend.ropeQk
    ? backend.ropeQk(q, kPre, posT, c.nHeads, c.nKvHeads, rope)
    : [backend.rope(q, posT, c.nHeads, rope), backend.rope(kPre, posT, c.nKvHeads, rope)];
  backend.dispose(q);
  return { q: qr, kPre, k: kr, v };
}
