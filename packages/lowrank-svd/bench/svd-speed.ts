// Timing of randomizedSvd on key-like matrices at prefill sizes (not a test: run by hand, single-threaded).
// Usage: npx tsx --conditions=@shadowkv/source packages/lowrank-svd/bench/svd-speed.ts [rowsxcols:rank ...]
// Default cases: 32768x256:32, 131072x256:160, 131072x1024:160. Add "--exact" to compare against exactSvd
// (Eckart–Young optimum) on cases with at most 40000 rows, and "--gram" to also time the exact truncated SVD
// that randomizedSvd computes through AᵀA once rank + oversample covers the columns (gram-svd.ts).
import { exactSvd, randomizedSvd, reconstructionError } from '../src/index.js';
import { GaussianRandom } from '../src/gaussian-random.js';

/** Pre-RoPE-key-like data: per-channel offsets, 16 strong decaying directions, and a noise floor. */
function keyLike(rows: number, cols: number, seed: number): Float32Array {
  const rng = new GaussianRandom(seed);
  const k = 16;
  const basis = rng.fillNormal(new Float64Array(k * cols)); // [k, cols]
  const offset = rng.fillNormal(new Float64Array(cols));
  const a = new Float32Array(rows * cols);
  const coef = new Float64Array(k);
  for (let i = 0; i < rows; i++) {
    for (let p = 0; p < k; p++) coef[p] = rng.nextNormal() * 4 * 0.8 ** p;
    for (let j = 0; j < cols; j++) {
      let x = offset[j] * 3 + 0.3 * rng.nextNormal();
      for (let p = 0; p < k; p++) x += coef[p] * basis[p * cols + j];
      a[i * cols + j] = x;
    }
  }
  return a;
}

const args = process.argv.slice(2);
const withExact = args.includes('--exact');
const withGram = args.includes('--gram');
const specs = args.filter((x) => !x.startsWith('--'));
const cases = (specs.length ? specs : ['32768x256:32', '131072x256:160', '131072x1024:160']).map((s) => {
  const m = /^(\d+)x(\d+):(\d+)$/.exec(s);
  if (!m) throw new Error(`bad case "${s}", expected ROWSxCOLS:RANK, e.g. 32768x256:32`);
  return { rows: +m[1], cols: +m[2], rank: +m[3] };
});

for (const { rows, cols, rank } of cases) {
  const a = keyLike(rows, cols, 1);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const svd = randomizedSvd(a, rows, cols, { rank });
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  const err = reconstructionError(a, rows, cols, svd);
  // CPU time is reported beside wall time because shared machines make wall time unreliable.
  const cpuS = (cpu.user + cpu.system) / 1e6;
  let line = `[${rows}, ${cols}] rank ${rank} (oversample 10, 2 power iterations): ${(ms / 1000).toFixed(2)} s wall, ${cpuS.toFixed(2)} s CPU, relative error ${err.toExponential(4)}`;
  if (withExact && rows <= 40000) {
    const exact = exactSvd(a, rows, cols);
    let tail = 0, total = 0;
    exact.s.forEach((s, i) => {
      total += s * s;
      if (i >= rank) tail += s * s;
    });
    line += `, Eckart–Young optimum ${Math.sqrt(tail / total).toExponential(4)} (ratio ${(err / Math.sqrt(tail / total)).toFixed(4)})`;
  }
  console.log(line);
  if (withGram) {
    const g0 = performance.now();
    const gcpu0 = process.cpuUsage();
    const gram = randomizedSvd(a, rows, cols, { rank, oversample: cols });
    const gcpu = process.cpuUsage(gcpu0);
    const gerr = reconstructionError(a, rows, cols, gram);
    console.log(`[${rows}, ${cols}] rank ${rank} exact via AᵀA: ${((performance.now() - g0) / 1000).toFixed(2)} s wall, ${((gcpu.user + gcpu.system) / 1e6).toFixed(2)} s CPU, relative error ${gerr.toExponential(4)} (randomized / exact error ${(err / gerr).toFixed(4)})`);
  }
}
