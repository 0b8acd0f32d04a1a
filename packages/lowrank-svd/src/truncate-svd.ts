// Keeps the leading components of an SVD (copies, since U rows are strided by the old rank).
import type { SvdResult } from './svd-result.js';

/** The first `rank` components of svd (rank <= svd.rank); returns svd itself when nothing is cut. */
export function truncateSvd(svd: SvdResult, rank: number): SvdResult {
  if (rank === svd.rank) return svd;
  const { rows, cols } = svd;
  const u = new Float32Array(rows * rank);
  for (let i = 0; i < rows; i++) u.set(svd.u.subarray(i * svd.rank, i * svd.rank + rank), i * rank);
  return { u, s: svd.s.slice(0, rank), vt: svd.vt.slice(0, rank * cols), rows, cols, rank };
}
