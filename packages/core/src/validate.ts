// Shape checks used at the top of every kernel, so that bad calls fail with a ShapeError, not deep inside.
import { ShapeError } from './errors.js';
import type { DType, Shape, Tensor } from './tensor.js';

/** Checks t's rank and dims; -1 in `expected` matches any size. */
export function assertShape(op: string, name: string, t: Tensor, expected: Shape, dtype?: DType): void {
  const ok = t.shape.length === expected.length && t.shape.every((d, i) => expected[i] < 0 || d === expected[i]);
  if (!ok) {
    const want = expected.map((d) => (d < 0 ? '*' : String(d))).join(', ');
    throw new ShapeError(op, `${name} has shape [${t.shape.join(', ')}], expected [${want}]`);
  }
  if (dtype && t.dtype !== dtype) throw new ShapeError(op, `${name} has dtype ${t.dtype}, expected ${dtype}`);
}

export function assertSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(op, `shapes differ: [${a.shape.join(', ')}] vs [${b.shape.join(', ')}]`);
  }
}
