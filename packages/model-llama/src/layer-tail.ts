// The part of a decoder layer after attention, shared by the one-sequence and the batched forward pass: output
// projection + residual, RMSNorm, gate/up + SwiGLU, down projection + residual.
import type { KernelBackend, Tensor } from '@shadowkv/core';
import type { LayerWeights } from './llama-model.js';

/**
 * x [m, hidden] + attention output att [m, nHeads*headDim] through the rest of the layer → the next x [m, hidden].
 * Disposes att and x. The fused ops (output projection + residual, norm + gate/up + SwiGLU) when the backend offers them:
 * the same values in fewer launches; otherwise the separate ops.
 */
export function layerTail(backend: KernelBackend, att: Tensor, x: Tensor, w: LayerWeights, rmsNormEps: number): Tensor {
  const x1 = backend.matmulAdd ? backend.matmulAdd(att, w.wo, x) : addOwned(backend, x, backend.matmul(att, w.wo));
  backend.dispose(att);
  backend.dispose(x);
  let act: Tensor; // [m, intermediate]
  if (backend.rmsNormMatmulSwiglu) act = backend.rmsNormMatmulSwiglu(x1, w.mlpNorm, rmsNormEps, w.wGate, w.wUp);
  else {
    const h2 = backend.rmsNorm(x1, w.mlpNorm, rmsNormEps);
    if (backend.matmulSwiglu) act = backend.matmulSwiglu(h2, w.wGate, w.wUp);
    else {
      const gate = backend.matmul(h2, w.wGate);
      const up = backend.matmul(h2, w.wUp);
      act = backend.swiglu(gate, up);
      backend.dispose(gate);
      backend.dispose(up);
    }
    backend.dispose(h2);
  }
  const out = backend.matmulAdd ? backend.matmulAdd(act, w.wDown, x1) : addOwned(backend, x1, backend.matmul(act, w.wDown));
  backend.dispose(act);
  backend.dispose(x1);
  return out;
}

/** a + b, disposing b (a projection's output that only feeds this residual add). */
function addOwned(backend: KernelBackend, a: Tensor, b: Tensor): Tensor {
  const out = backend.add(a, b);
  backend.dispose(b);
  return out;
}
