// One layer of a host-side ShadowKV variant for diagnosis: same layout as the policy, with switchable selection
// and key rebuild, and per-step measurements against exact dense attention.
import { buildLandmarkSet, chunkLandmarks, removeOutliers, type LandmarkSet } from '@shadowkv/sparse-select';
import { isSparseLayer, type ResearchConfig } from './research-config.js';

/** What one decode step of one layer looked like, next to exact dense attention with the same query. */
export interface LayerStepDiagnostics {
  /** Share of the dense attention mass (exact keys, all tokens) on the tokens this step attended, mean over query heads. */
  massKept: number;
  /** ||out - dense|| / ||dense|| of the attention output. */
  outErr: number;
  /** Share of the oracle's top budget/chunkSize chunks (by exact mass) that the step selected, mean over KV heads. */
  oracleRecall: number;
  /** Share of the needle tokens attended (selected or static), mean over KV heads; NaN when no needle is known. */
  needleHit: number;
}

/** Host inputs of a research layer: everything token-major [seqLen, nKvHeads*headDim] or head-major as noted. */
export interface ResearchLayerInputs {
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  promptLen: number;
  /** Exact post-RoPE keys, head-major [nKvHeads, promptLen, headDim]. */
  keys: Float32Array;
  /** Rank-r rebuilt post-RoPE keys, head-major [nKvHeads, promptLen, headDim]; only needed when used. */
  lowKeys?: Float32Array;
  /** Values, head-major [nKvHeads, promptLen, headDim]. */
  values: Float32Array;
  /** Prompt positions of the needle's answer tokens (for needleHit). */
  needle: number[];
  /** Post-RoPE queries of the last prompt tokens [window, nHeads*headDim] (for outlierRule 'query'). */
  windowQueries?: Float32Array;
  /** Compare every step with exact dense attention (massKept, outErr, recall, needleHit); false: accuracy only, faster. */
  diagnostics?: boolean;
}

export class ResearchLayer {
  private readonly sparse: boolean;
  private readonly nChunks: number;
  private readonly localStart: number;
  private readonly nSelect: number;
  private readonly set: LandmarkSet | undefined;
  /** Per KV head: prompt tokens always attended exactly (local window + outlier chunks). */
  private readonly staticTokens: number[][] = [];
  private readonly genK: number[][] = [];
  private readonly genV: number[][] = [];
  /** Per-chunk statistics computed on first use (radius, largest-norm token). */
  private readonly memo = new Map<string, number>();
  private readonly vecMemo = new Map<string, { mean: Float64Array; min: Float64Array; max: Float64Array; dev: Float64Array; w: Float64Array; halves: Float64Array[] }>();

  constructor(
    private readonly cfg: ResearchConfig,
    layer: number,
    private readonly x: ResearchLayerInputs,
  ) {
    const { chunkSize, localChunks, outliers, budget } = cfg;
    this.sparse = isSparseLayer(cfg, layer);
    this.nChunks = Math.floor(x.promptLen / chunkSize) - localChunks;
    this.localStart = this.nChunks * chunkSize;
    this.nSelect = budget / chunkSize;
    if (this.sparse) {
      const rows = { data: x.keys, nKvHeads: x.nKvHeads, rowStride: x.promptLen, headDim: x.headDim };
      if (cfg.outlierRule === 'query') {
        const all = chunkLandmarks(rows, chunkSize, this.nChunks);
        this.set = removeOutliers(all, this.queryOutliers(), x.nKvHeads, this.nChunks, x.headDim);
      } else this.set = buildLandmarkSet(rows, chunkSize, this.nChunks, outliers);
      for (let h = 0; h < x.nKvHeads; h++) {
        const st: number[] = [];
        for (let t = this.localStart; t < x.promptLen; t++) st.push(t);
        for (let o = 0; o < outliers; o++) {
          const c = this.set.outlierChunkIds[h * outliers + o];
          for (let j = 0; j < chunkSize; j++) st.push(c * chunkSize + j);
        }
        this.staticTokens.push(st);
      }
    }
  }

  /**
   * One decode step: the new token's exact k/v join the generated tokens, then attention of q [nHeads*headDim].
   * @returns the attention output [nHeads*headDim] and the diagnostics of this step
   */
  step(q: Float32Array, k: Float32Array, v: Float32Array): { out: Float32Array; diag: LayerStepDiagnostics } {
    const { nHeads, nKvHeads, headDim, promptLen, keys, values } = this.x;
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    this.genK.push(Array.from(k));
    this.genV.push(Array.from(v));
    const nGen = this.genK.length;
    const out = new Float32Array(nHeads * headDim);
    const dense = new Float32Array(nHeads * headDim);
    let massKept = 0;
    let recall = 0;
    let needleHit = 0;

    if (this.x.diagnostics === false && this.sparse && !this.cfg.selection.startsWith('oracle')) return this.stepFast(q, nGen, scale);
    for (let h = 0; h < nKvHeads; h++) {
      // Exact scores of every prompt and generated token for the group's query heads [group, promptLen + nGen].
      const exact = Array.from({ length: group }, (_, g) => this.scores(q, (h * group + g) * headDim, keys, h, promptLen, nGen, scale));
      const probs = exact.map(softmax);
      for (let g = 0; g < group; g++) accumulate(dense, (h * group + g) * headDim, probs[g], (t) => this.valueRow(h, t));

      const chosen = this.sparse ? this.select(q, h, probs, scale) : [];
      const attended = this.sparse ? this.attendedTokens(h, chosen) : Array.from({ length: promptLen }, (_, t) => t);
      for (let i = 0; i < nGen; i++) attended.push(promptLen + i);

      for (let g = 0; g < group; g++) {
        const qo = (h * group + g) * headDim;
        // Logits of the attended tokens: selected keys per the config, everything else exact.
        const selectedSet = new Set<number>();
        if (this.sparse) for (const c of chosen) for (let j = 0; j < this.cfg.chunkSize; j++) selectedSet.add(c * this.cfg.chunkSize + j);
        const logits = attended.map((t) => {
          if (selectedSet.has(t) && this.cfg.keys === 'lowrank') return dot(q, qo, this.x.lowKeys as Float32Array, (h * promptLen + t) * headDim, headDim) * scale;
          return exact[g][t];
        });
        const p = softmax(logits);
        const sparseP = new Float32Array(promptLen + nGen);
        attended.forEach((t, i) => (sparseP[t] = p[i]));
        accumulate(out, qo, sparseP, (t) => this.valueRow(h, t));
        let kept = 0;
        for (const t of attended) kept += probs[g][t];
        massKept += kept / nHeads;
      }

      if (this.sparse) {
        const oracle = this.oracleChunks(h, probs);
        const sel = new Set(chosen);
        recall += oracle.filter((c) => sel.has(c)).length / oracle.length / nKvHeads;
      } else recall += 1 / nKvHeads;
      if (this.x.needle.length) {
        const att = new Set(attended);
        needleHit += this.x.needle.filter((t) => att.has(t)).length / this.x.needle.length / nKvHeads;
      } else needleHit = NaN;
    }
    return { out, diag: { massKept, outErr: relErr(out, dense), oracleRecall: recall, needleHit } };
  }

  /** A step without the dense diagnostics (NaN): only the attended tokens are scored. */
  private stepFast(q: Float32Array, nGen: number, scale: number): { out: Float32Array; diag: LayerStepDiagnostics } {
    const { nHeads, nKvHeads, headDim, promptLen, keys } = this.x;
    const group = nHeads / nKvHeads;
    const out = new Float32Array(nHeads * headDim);
    for (let h = 0; h < nKvHeads; h++) {
      const chosen = this.select(q, h, [], scale);
      const attended = this.attendedTokens(h, chosen);
      const selectedSet = new Set<number>();
      for (const c of chosen) for (let j = 0; j < this.cfg.chunkSize; j++) selectedSet.add(c * this.cfg.chunkSize + j);
      for (let g = 0; g < group; g++) {
        const qo = (h * group + g) * headDim;
        const logits: number[] = attended.map((t) => {
          const src = selectedSet.has(t) && this.cfg.keys === 'lowrank' ? (this.x.lowKeys as Float32Array) : keys;
          return dot(q, qo, src, (h * promptLen + t) * headDim, headDim) * scale;
        });
        for (let i = 0; i < nGen; i++) {
          let d = 0;
          const row = this.genK[i];
          for (let e = 0; e < headDim; e++) d += q[qo + e] * row[h * headDim + e];
          logits.push(d * scale);
        }
        const p = softmax(logits);
        for (let i = 0; i < p.length; i++) {
          const r = i < attended.length ? this.valueRow(h, attended[i]) : this.valueRow(h, promptLen + i - attended.length);
          for (let e = 0; e < headDim; e++) out[qo + e] += p[i] * r[e];
        }
      }
    }
    return { out, diag: { massKept: NaN, outErr: NaN, oracleRecall: NaN, needleHit: NaN } };
  }

  /** Scores q·k·scale of query head at qo against KV head h: prompt keys from `src`, then the generated keys. */
  private scores(q: Float32Array, qo: number, src: Float32Array, h: number, promptLen: number, nGen: number, scale: number): Float32Array {
    const { headDim } = this.x;
    const s = new Float32Array(promptLen + nGen);
    for (let t = 0; t < promptLen; t++) s[t] = dot(q, qo, src, (h * promptLen + t) * headDim, headDim) * scale;
    for (let i = 0; i < nGen; i++) {
      let d = 0;
      const row = this.genK[i];
      for (let e = 0; e < headDim; e++) d += q[qo + e] * row[h * headDim + e];
      s[promptLen + i] = d * scale;
    }
    return s;
  }

  private valueRow(h: number, t: number): ArrayLike<number> {
    const { promptLen, headDim, values } = this.x;
    if (t < promptLen) return values.subarray((h * promptLen + t) * headDim, (h * promptLen + t + 1) * headDim);
    return this.genV[t - promptLen].slice(h * headDim, (h + 1) * headDim);
  }

  /** Per KV head the `outliers` chunks with the most attention from the window queries, ascending [nKvHeads, outliers]. */
  private queryOutliers(): Int32Array {
    const { nHeads, nKvHeads, headDim, promptLen, keys } = this.x;
    const wq = this.x.windowQueries as Float32Array;
    const window = wq.length / (nHeads * headDim);
    const group = nHeads / nKvHeads;
    const scale = 1 / Math.sqrt(headDim);
    const c = this.cfg.chunkSize;
    const out = new Int32Array(nKvHeads * this.cfg.outliers);
    for (let h = 0; h < nKvHeads; h++) {
      const score = new Float64Array(this.nChunks);
      for (let w = 0; w < window; w++) {
        const best = new Float64Array(this.nChunks);
        for (let g = 0; g < group; g++) {
          const qo = w * nHeads * headDim + (h * group + g) * headDim;
          // Softmax over the prompt before this window token (the window is inside the local window).
          const n = promptLen - window + w + 1;
          const l = new Float32Array(n);
          for (let t = 0; t < n; t++) l[t] = dot(wq, qo, keys, (h * promptLen + t) * headDim, headDim) * scale;
          const p = softmax(l);
          for (let ch = 0; ch < this.nChunks; ch++) {
            let m = 0;
            for (let j = 0; j < c; j++) m += p[ch * c + j];
            best[ch] = Math.max(best[ch], m);
          }
        }
        for (let ch = 0; ch < this.nChunks; ch++) score[ch] += best[ch] / window;
      }
      out.set(topIds(score, this.cfg.outliers), h * this.cfg.outliers);
    }
    return out;
  }

  /** Chunk ids selected for KV head h (outliers excluded: they are attended anyway). */
  private select(q: Float32Array, h: number, probs: Float32Array[], scale: number): number[] {
    const set = this.set as LandmarkSet;
    const { nLandmarks } = set;
    const { headDim, nHeads, nKvHeads, promptLen } = this.x;
    const group = nHeads / nKvHeads;
    const ids = set.chunkIds.subarray(h * nLandmarks, (h + 1) * nLandmarks);
    const sel = this.cfg.selection;
    const c = this.cfg.chunkSize;
    if (sel === 'oracle' || sel === 'oracle-lowrank') {
      const src = sel === 'oracle' ? probs : this.lowProbs(q, h, scale);
      return topIds(Float64Array.from(ids, (id) => this.chunkMass(src, id)), this.nSelect).map((i) => ids[i]);
    }
    // Landmark-family logits per query head of the group [group][nLandmarks].
    const score = new Float64Array(nLandmarks);
    const rule = sel === 'refine' ? this.cfg.nominator : sel;
    for (let g = 0; g < group; g++) {
      const qo = (h * group + g) * headDim;
      const qn = Math.sqrt(dot(q, qo, q, qo, headDim));
      const l = new Float32Array(nLandmarks);
      for (let i = 0; i < nLandmarks; i++) {
        l[i] = dot(q, qo, set.landmarks, (h * nLandmarks + i) * headDim, headDim) * scale;
        if (rule === 'radius') l[i] += this.cfg.radiusAlpha * qn * this.radius(h, ids[i]) * scale;
        if (rule === 'landmark+maxnorm') l[i] = Math.max(l[i], dot(q, qo, this.x.keys, (h * promptLen + this.maxNormToken(h, ids[i])) * headDim, headDim) * scale);
        if (rule === 'quest' || rule === 'meandev' || rule === 'pc1' || rule === 'sub2') l[i] = this.boundLogit(rule, q, qo, h, ids[i]) * scale;
      }
      const p = softmax(l);
      for (let i = 0; i < nLandmarks; i++) score[i] = sel === 'landmark-sum' ? score[i] + p[i] : Math.max(score[i], p[i]);
    }
    if (sel !== 'refine') return topIds(score, this.nSelect).map((i) => ids[i]);
    // Refine: rank-r logits of every token of the candidate chunks, softmax over the candidates per query head.
    const cand = topIds(score, Math.min(nLandmarks, this.cfg.refineFactor * this.nSelect)).map((i) => ids[i]);
    const rr = this.cfg.reranker;
    if (rr !== 'lowrank') {
      const best = new Float64Array(cand.length);
      for (let g = 0; g < group; g++) {
        const qo = (h * group + g) * headDim;
        const p = softmax(cand.map((id) => this.boundLogit(rr, q, qo, h, id) * scale));
        for (let k = 0; k < cand.length; k++) best[k] = Math.max(best[k], p[k]);
      }
      return topIds(best, this.nSelect).map((k) => cand[k]);
    }
    const low = this.x.lowKeys as Float32Array;
    const mass = new Float64Array(cand.length);
    for (let g = 0; g < group; g++) {
      const qo = (h * group + g) * headDim;
      const l = new Float32Array(cand.length * c);
      cand.forEach((id, k) => {
        for (let j = 0; j < c; j++) l[k * c + j] = dot(q, qo, low, (h * promptLen + id * c + j) * headDim, headDim) * scale;
      });
      const p = softmax(l);
      for (let k = 0; k < cand.length; k++) {
        let m = 0;
        for (let j = 0; j < c; j++) m += p[k * c + j];
        mass[k] = Math.max(mass[k], m);
      }
    }
    return topIds(mass, this.nSelect).map((k) => cand[k]);
  }

  /** Per-chunk vectors of the bound rules (KV head h, chunk id), computed from the exact post-RoPE keys. */
  private chunkVectors(h: number, id: number): { mean: Float64Array; min: Float64Array; max: Float64Array; dev: Float64Array; w: Float64Array; halves: Float64Array[] } {
    const key = `${h}/${id}`;
    let v = this.vecMemo.get(key);
    if (v) return v;
    const { headDim, promptLen, keys } = this.x;
    const c = this.cfg.chunkSize;
    const row = (j: number) => (h * promptLen + id * c + j) * headDim;
    const mean = new Float64Array(headDim);
    const min = new Float64Array(headDim).fill(Infinity);
    const max = new Float64Array(headDim).fill(-Infinity);
    const halves = [new Float64Array(headDim), new Float64Array(headDim)];
    for (let j = 0; j < c; j++) {
      for (let e = 0; e < headDim; e++) {
        const k = keys[row(j) + e];
        mean[e] += k / c;
        min[e] = Math.min(min[e], k);
        max[e] = Math.max(max[e], k);
        halves[j < c / 2 ? 0 : 1][e] += k / Math.ceil(c / 2);
      }
    }
    const dev = new Float64Array(headDim);
    for (let e = 0; e < headDim; e++) dev[e] = Math.max(max[e] - mean[e], mean[e] - min[e]);
    // Main deviation direction: power iteration on D^T D (D = keys - mean, [c, headDim]); w = v * max_j |D_j·v|.
    const d = Array.from({ length: c }, (_, j) => Float64Array.from({ length: headDim }, (_, e) => keys[row(j) + e] - mean[e]));
    let u = new Float64Array(headDim).fill(1 / Math.sqrt(headDim));
    for (let it = 0; it < 30; it++) {
      const nu = new Float64Array(headDim);
      for (const dj of d) {
        let p = 0;
        for (let e = 0; e < headDim; e++) p += dj[e] * u[e];
        for (let e = 0; e < headDim; e++) nu[e] += p * dj[e];
      }
      const n = Math.hypot(...nu) || 1;
      u = nu.map((x) => x / n);
    }
    let coef = 0;
    for (const dj of d) {
      let p = 0;
      for (let e = 0; e < headDim; e++) p += dj[e] * u[e];
      coef = Math.max(coef, Math.abs(p));
    }
    const w = u.map((x) => x * coef);
    v = { mean, min, max, dev, w, halves };
    this.vecMemo.set(key, v);
    return v;
  }

  /** Unscaled logit of a bound rule for query head at qo. */
  private boundLogit(rule: 'quest' | 'meandev' | 'pc1' | 'sub2', q: Float32Array, qo: number, h: number, id: number): number {
    const v = this.chunkVectors(h, id);
    const { headDim } = this.x;
    let s = 0;
    if (rule === 'quest') {
      for (let e = 0; e < headDim; e++) s += Math.max(q[qo + e] * v.min[e], q[qo + e] * v.max[e]);
      return s;
    }
    if (rule === 'sub2') {
      let a = 0;
      let b = 0;
      for (let e = 0; e < headDim; e++) {
        a += q[qo + e] * v.halves[0][e];
        b += q[qo + e] * v.halves[1][e];
      }
      return Math.max(a, b);
    }
    let m = 0;
    let spread = 0;
    for (let e = 0; e < headDim; e++) {
      m += q[qo + e] * v.mean[e];
      if (rule === 'meandev') spread += Math.abs(q[qo + e]) * v.dev[e];
      else spread += q[qo + e] * v.w[e];
    }
    return m + this.cfg.boundAlpha * Math.abs(spread);
  }

  /** Largest distance of a key of chunk id (KV head h) from the chunk's mean. */
  private radius(h: number, id: number): number {
    const memo = this.memo.get(`r${h}/${id}`);
    if (memo !== undefined) return memo;
    const { headDim, promptLen, keys } = this.x;
    const c = this.cfg.chunkSize;
    const mean = new Float64Array(headDim);
    for (let j = 0; j < c; j++) for (let e = 0; e < headDim; e++) mean[e] += keys[(h * promptLen + id * c + j) * headDim + e] / c;
    let best = 0;
    for (let j = 0; j < c; j++) {
      let d = 0;
      for (let e = 0; e < headDim; e++) d += (keys[(h * promptLen + id * c + j) * headDim + e] - mean[e]) ** 2;
      best = Math.max(best, Math.sqrt(d));
    }
    this.memo.set(`r${h}/${id}`, best);
    return best;
  }

  /** The token of chunk id (KV head h) whose exact key has the largest norm. */
  private maxNormToken(h: number, id: number): number {
    const memo = this.memo.get(`m${h}/${id}`);
    if (memo !== undefined) return memo;
    const { headDim, promptLen, keys } = this.x;
    const c = this.cfg.chunkSize;
    let best = -1;
    let tok = id * c;
    for (let j = 0; j < c; j++) {
      const o = (h * promptLen + id * c + j) * headDim;
      const n = dot(keys, o, keys, o, headDim);
      if (n > best) [best, tok] = [n, id * c + j];
    }
    this.memo.set(`m${h}/${id}`, tok);
    return tok;
  }

  /** Softmax over the prompt with rank-r keys (generated tokens exact) for each query head of KV head h. */
  private lowProbs(q: Float32Array, h: number, scale: number): Float32Array[] {
    const { nHeads, nKvHeads, headDim, promptLen } = this.x;
    const group = nHeads / nKvHeads;
    return Array.from({ length: group }, (_, g) => softmax(this.scores(q, (h * group + g) * headDim, this.x.lowKeys as Float32Array, h, promptLen, this.genK.length, scale)));
  }

  /** Max over the group's query heads of the probability mass on chunk c. */
  private chunkMass(probs: Float32Array[], c: number): number {
    let best = 0;
    for (const p of probs) {
      let m = 0;
      for (let j = 0; j < this.cfg.chunkSize; j++) m += p[c * this.cfg.chunkSize + j];
      best = Math.max(best, m);
    }
    return best;
  }

  /** The oracle's top nSelect chunks of KV head h by exact mass, among its non-outlier chunks. */
  private oracleChunks(h: number, probs: Float32Array[]): number[] {
    const set = this.set as LandmarkSet;
    const ids = set.chunkIds.subarray(h * set.nLandmarks, (h + 1) * set.nLandmarks);
    const score = Float64Array.from(ids, (c) => this.chunkMass(probs, c));
    return topIds(score, this.nSelect).map((i) => ids[i]);
  }

  private attendedTokens(h: number, chosen: number[]): number[] {
    const out = [...this.staticTokens[h]];
    for (const c of chosen) for (let j = 0; j < this.cfg.chunkSize; j++) out.push(c * this.cfg.chunkSize + j);
    return out;
  }
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s = 0;
  for (let e = 0; e < n; e++) s += a[ao + e] * b[bo + e];
  return s;
}

function softmax(x: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]);
  const out = new Float32Array(x.length);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += out[i] = Math.exp(x[i] - max);
  for (let i = 0; i < x.length; i++) out[i] /= sum;
  return out;
}

/** out[o .. o+headDim) += Σ_t p[t]·row(t) over the nonzero p. */
function accumulate(out: Float32Array, o: number, p: Float32Array, row: (t: number) => ArrayLike<number>): void {
  for (let t = 0; t < p.length; t++) {
    if (p[t] === 0) continue;
    const r = row(t);
    for (let e = 0; e < r.length; e++) out[o + e] += p[t] * r[e];
  }
}

/** Indices of the k largest values, ascending index order; ties to the lower index. */
function topIds(score: Float64Array, k: number): number[] {
  const order = Array.from(score.keys()).sort((a, b) => score[b] - score[a] || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}
