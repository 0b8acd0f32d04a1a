// The RoPE rotation of one (i, i + headDim/2) pair, shared by the rope and rebuildKeys kernels.
#pragma once

namespace skv {

/**
 * Rotate-half RoPE of the pair (x1, x2) at position `pos` with inverse frequency `invFreq`. The angle is formed
 * in f32 and sincosf is the accurate (not the fast-math) routine: the conformance bound allows 2^-21 per radian.
 */
__device__ __forceinline__ void ropePair(float& x1, float& x2, int pos, float invFreq, float scaling) {
  float sn, cs;
  sincosf((float)pos * invFreq, &sn, &cs);
  cs *= scaling;
  sn *= scaling;
  const float a = x1, b = x2;
  x1 = a * cs - b * sn;
  x2 = b * cs + a * sn;
}

}  // namespace skv
