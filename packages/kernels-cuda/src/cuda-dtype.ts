// Dtype codes shared with the native side (DTypeCode in native/kernels/kernels.h).
import type { DType } from '@shadowkv/core';

export const DTYPE_CODE: Readonly<Record<DType, number>> = { f32: 0, f16: 1, bf16: 2, i32: 3 };
