// Two-stage chunk selection: landmarks nominate candidate chunks, the candidates' rebuilt (rank-r) keys pick the final ones.
import { ShapeError, type KernelBackend, type RopeSpec, type Tensor } from '@shadowkv/core';

/** ShadowKV's low-rank pre-RoPE keys: token t's key for KV head h is rope(a[t]·b[h], t + positionOffset). */
export interface LowRankKeys {
  /** [seqLen, rank] */
  a: Tensor;
  /** [nKvHeads, rank, headDim] */
  b: Tensor;
  rope: RopeSpec;
  /** Position of row 0 of `a` (default 0). */
  positionOffset?: number;
}

/**
 * Re-scores candidate chunks with their rebuilt keys and keeps the `count` best per KV head.
 *
 * A landmark (the chunk's mean key) scores q·mean, which blurs a chunk holding one key that matches q among
 * seven that do not; attention itself sums exp(q·k) over the keys. So the candidates' keys are rebuilt
 * (backend.rebuildKeys), each query head takes the softmax of q·kᵀ·scale over all candidate tokens
 * (backend.landmarkScores, max over the query heads of each KV head, per token), and a chunk scores the sum
 * of its tokens' probabilities. Ties go to the lower chunk id.
 *
 * Work per call: a rebuild and a score of candidates·chunkSize keys per KV head; one [nKvHeads, nCand*chunkSize]
 * read back to the host. Nothing is kept between calls.
 *
 * @param q post-RoPE query of one token [1, nHeads*headDim]
 * @param candidates candidate chunk ids [nKvHeads, nCand], distinct within a head (e.g. landmarkChunkIds of a
 *   selectChunks with a larger count)
 * @returns chunk ids [nKvHeads, count], ascending within each head
 */
export async function refineChunks(
  backend: KernelBackend,
  q: Tensor,
  keys: LowRankKeys,
  candidates: Int32Array,
  nKvHeads: number,
  nHeads: number,
  chunkSize: number,
  count: number,
  scale: number,
  out?: Int32Array,
): Promise<Int32Array> {
  const r = await refineChunksKeepingKeys(backend, q, keys, candidates, nKvHeads, nHeads, chunkSize, count, scale, out);
  backend.dispose(r.rebuilt);
  return r.ids;
}

/** What refineChunksKeepingKeys returns: the chosen chunks and the candidates' rebuilt keys they were scored with. */
export interface RefinedChunks {
  /** Chosen chunk ids [nKvHeads, count], ascending within each head. */
  ids: Int32Array;
  /** The candidates' rebuilt post-RoPE keys [nKvHeads, nCand*chunkSize, headDim]; the caller disposes it. */
  rebuilt: Tensor;
  /** The candidates [nKvHeads, nCand]: candidate k of head h is rows k*chunkSize.. of head h of `rebuilt`. */
  candidates: Int32Array;
  /** Per KV head, chunk id -> its candidate index k (rows k*chunkSize.. of `rebuilt`); built on first use. */
  readonly candidateIndex: Map<number, number>[];
  /** Candidates (all heads) whose keys were copied from `resident` instead of rebuilt. */
  reused: number;
}

/**
 * Keys of chunks already rebuilt on the device (ShadowKV's budget rows of the decode buffer, which hold the last
 * step's selection): candidates found here are copied, not rebuilt. Consecutive steps keep most of their chunks,
 * so this removes most of the refine stage's extra rebuild.
 */
export interface ResidentKeys {
  /** [nKvHeads, rows, headDim]: chunk slot s of head h is rows s*chunkSize..(s+1)*chunkSize of head h. */
  keys: Tensor;
  /**
   * Chunk id held by each slot [nKvHeads, nSlots], -1 where none. Each held chunk's rows must be exactly what
   * backend.rebuildKeys gives for it with the same `LowRankKeys` (then the refine stage's result is bit-identical).
   */
  slots: Int32Array;
}

/**
 * refineChunks, keeping the candidates' rebuilt keys: the chosen chunks' keys are rows of `rebuilt`, so a caller
 * that needs them (ShadowKV's decode step) gathers them (backend.gatherChunks) instead of rebuilding them again.
 * With `resident`, candidates whose keys are already on the device are copied from there (gatherChunks) and only
 * the others rebuilt (rebuildKeys, then scatterChunks into place).
 */
export async function refineChunksKeepingKeys(
  backend: KernelBackend,
  q: Tensor,
  keys: LowRankKeys,
  candidates: Int32Array,
  nKvHeads: number,
  nHeads: number,
  chunkSize: number,
  count: number,
  scale: number,
  out?: Int32Array,
  resident?: ResidentKeys,
): Promise<RefinedChunks> {
  const nCand = candidates.length / nKvHeads;
  if (!Number.isInteger(nCand) || nCand < 1) throw new ShapeError('refineChunks', `${candidates.length} candidates do not split into ${nKvHeads} heads`);
  if (!Number.isInteger(count) || count < 1 || count > nCand) throw new ShapeError('refineChunks', `count ${count} must be an integer in [1, ${nCand}] (the candidates per head)`);
  let rebuilt: Tensor;
  let reused: number;
  let scores: Tensor;
  if (backend.candidateScores) {
    // One call: held chunks copied, the rest rebuilt in place, scored (the same numbers as the separate ops below).
    const plan = candidatePlan(candidates, nKvHeads, chunkSize, resident);
    reused = plan.reused;
    const planT = backend.upload(plan.plan, [nKvHeads, 2, nCand], 'i32');
    try {
      // Without resident keys every plan slot is -1 and nothing is read from `held`: b stands in (same heads and headDim).
      [rebuilt, scores] = backend.candidateScores(q, keys.a, keys.b, resident?.keys ?? keys.b, planT, chunkSize, keys.positionOffset ?? 0, keys.rope, nHeads, scale);
    } finally {
      backend.dispose(planT);
    }
  } else {
    ({ rebuilt, reused } = candidateKeys(backend, keys, candidates, nKvHeads, chunkSize, resident));
    try {
      scores = backend.landmarkScores(q, rebuilt, nHeads, scale); // [nKvHeads, nCand*chunkSize]
    } catch (e) {
      backend.dispose(rebuilt);
      throw e;
    }
  }
  let p: Float32Array;
  try {
    p = (await backend.read(scores)) as Float32Array;
  } catch (e) {
    backend.dispose(rebuilt);
    throw e;
  } finally {
    backend.dispose(scores);
  }
  const ids = topChunksByMass(p, candidates, nKvHeads, chunkSize, count, out);
  return new Refined(ids, rebuilt, candidates, reused);
}

/** RefinedChunks with the per-head chunk -> candidate maps built only when asked for (the layer's fused path never does). */
class Refined implements RefinedChunks {
  private index: Map<number, number>[] | undefined;

  constructor(
    readonly ids: Int32Array,
    readonly rebuilt: Tensor,
    readonly candidates: Int32Array,
    readonly reused: number,
  ) {}

  get candidateIndex(): Map<number, number>[] {
    if (!this.index) {
      const nKvHeads = this.ids.length > 0 ? this.rebuilt.shape[0] : 0;
      const nCand = this.candidates.length / Math.max(1, nKvHeads);
      this.index = [];
      for (let h = 0; h < nKvHeads; h++) {
        const m = new Map<number, number>();
        for (let k = 0; k < nCand; k++) m.set(this.candidates[h * nCand + k], k);
        this.index.push(m);
      }
    }
    return this.index;
  }
}

/** Chunk id -> resident slot, -1 elsewhere: candidatePlan's lookup, kept (all -1) between calls. */
let slotOf = new Int32Array(0);

/**
 * backend.candidateScores' plan [nKvHeads, 2, nCand]: per head the candidate ids, then the resident slot holding
 * each one (-1: rebuild it).
 */
function candidatePlan(candidates: Int32Array, nKvHeads: number, chunkSize: number, resident?: ResidentKeys): { plan: Int32Array; reused: number } {
  const nCand = candidates.length / nKvHeads;
  const plan = new Int32Array(2 * nKvHeads * nCand);
  let reused = 0;
  const nSlots = resident ? checkResident(resident, nKvHeads, chunkSize) : 0;
  for (let h = 0; h < nKvHeads; h++) {
    const base = 2 * h * nCand;
    for (let k = 0; k < nCand; k++) {
      plan[base + k] = candidates[h * nCand + k];
      plan[base + nCand + k] = -1;
    }
    if (!resident) continue;
    // Per head: mark each held chunk's slot in a chunk-indexed scratch, look the candidates up, unmark.
    const held = resident.slots;
    let top = 0;
    for (let s = 0; s < nSlots; s++) top = Math.max(top, held[h * nSlots + s] + 1);
    if (slotOf.length < top) slotOf = new Int32Array(Math.max(top, 2 * slotOf.length)).fill(-1);
    for (let s = 0; s < nSlots; s++) if (held[h * nSlots + s] >= 0) slotOf[held[h * nSlots + s]] = s;
    for (let k = 0; k < nCand; k++) {
      const c = candidates[h * nCand + k];
      const s = c >= 0 && c < top ? slotOf[c] : -1;
      if (s >= 0) {
        plan[base + nCand + k] = s;
        reused++;
      }
    }
    for (let s = 0; s < nSlots; s++) if (held[h * nSlots + s] >= 0) slotOf[held[h * nSlots + s]] = -1;
  }
  return { plan, reused };
}

/** Slots per head of `resident`, after checking that they fit its keys. */
function checkResident(resident: ResidentKeys, nKvHeads: number, chunkSize: number): number {
  const nSlots = resident.slots.length / nKvHeads;
  if (!Number.isInteger(nSlots) || resident.keys.shape[0] !== nKvHeads || resident.keys.shape[1] < nSlots * chunkSize) {
    throw new ShapeError('refineChunks', `resident slots [${resident.slots.length}] do not fit keys [${resident.keys.shape.join(', ')}] with ${nKvHeads} heads and chunkSize ${chunkSize}`);
  }
  return nSlots;
}

/**
 * The candidates' post-RoPE keys [nKvHeads, nCand*chunkSize, headDim] in candidate order: rebuilt, or with
 * `resident` copied where the device holds them. Heads differ in how many they hold; rebuildKeys takes the same
 * count per head, so a head with fewer to rebuild pads its list with chunks it holds (rebuilt to the rows they
 * were copied to: the same values).
 */
function candidateKeys(backend: KernelBackend, keys: LowRankKeys, candidates: Int32Array, nKvHeads: number, chunkSize: number, resident?: ResidentKeys): { rebuilt: Tensor; reused: number } {
  const nCand = candidates.length / nKvHeads;
  const offset = keys.positionOffset ?? 0;
  const rebuildAll = (): Tensor => {
    const idx = backend.upload(candidates, [nKvHeads, nCand], 'i32');
    try {
      return backend.rebuildKeys(keys.a, keys.b, idx, chunkSize, offset, keys.rope);
    } finally {
      backend.dispose(idx);
    }
  };
  if (!resident) return { rebuilt: rebuildAll(), reused: 0 };
  const nSlots = checkResident(resident, nKvHeads, chunkSize);
  // Per head: the slot holding each candidate (-1: rebuild it).
  const from = new Int32Array(nKvHeads * nCand).fill(-1);
  const nMiss = new Int32Array(nKvHeads);
  for (let h = 0; h < nKvHeads; h++) {
    const held = resident.slots.subarray(h * nSlots, (h + 1) * nSlots);
    for (let k = 0; k < nCand; k++) {
      const s = held.indexOf(candidates[h * nCand + k]);
      if (s >= 0) from[h * nCand + k] = s;
      else nMiss[h]++;
    }
  }
  let most = 0;
  for (let h = 0; h < nKvHeads; h++) most = Math.max(most, nMiss[h]);
  if (most === nCand) return { rebuilt: rebuildAll(), reused: 0 };
  const reused = nKvHeads * nCand - nMiss.reduce((x, y) => x + y, 0);
  // Copy every candidate's rows from its slot (slot 0 for the ones to rebuild: overwritten below).
  const slotIdx = backend.upload(from.map((s) => Math.max(0, s)), [nKvHeads, nCand], 'i32');
  let out: Tensor;
  try {
    out = backend.gatherChunks(resident.keys, slotIdx, chunkSize);
  } finally {
    backend.dispose(slotIdx);
  }
  if (most === 0) return { rebuilt: out, reused };
  // Rebuild the rest (padded per head with held candidates) and put them in place.
  const ids = new Int32Array(nKvHeads * most);
  const at = new Int32Array(nKvHeads * most);
  for (let h = 0; h < nKvHeads; h++) {
    let n = 0;
    for (let k = 0; k < nCand && n < most; k++) {
      if (from[h * nCand + k] < 0) {
        ids[h * most + n] = candidates[h * nCand + k];
        at[h * most + n++] = k;
      }
    }
    for (let k = 0; k < nCand && n < most; k++) {
      if (from[h * nCand + k] >= 0) {
        ids[h * most + n] = candidates[h * nCand + k];
        at[h * most + n++] = k;
      }
    }
  }
  const idIdx = backend.upload(ids, [nKvHeads, most], 'i32');
  const atIdx = backend.upload(at, [nKvHeads, most], 'i32');
  try {
    const fresh = backend.rebuildKeys(keys.a, keys.b, idIdx, chunkSize, offset, keys.rope);
    backend.scatterChunks(out, fresh, atIdx, chunkSize);
    backend.dispose(fresh);
  } catch (e) {
    backend.dispose(out);
    throw e;
  } finally {
    backend.dispose(idIdx);
    backend.dispose(atIdx);
  }
  return { rebuilt: out, reused };
}

/**
 * Candidates of a refine stage that bounds its rebuild: per KV head the `held` chunks (whose rebuilt keys are already
 * on the device, so scoring them costs no rebuild) plus the `fresh` best-scored landmarks that are not held. The
 * landmarks' top `held + fresh` (`positions`, from backend.topK, any order) always hold `fresh` others, since at most
 * `held` of them are held; among those the higher landmark score wins, ties to the lower position.
 *
 * @param scores landmark scores [nKvHeads, nLandmarks] (backend.landmarkScores, read back)
 * @param positions landmark positions [nKvHeads, nTop], nTop >= nHeld + fresh
 * @param chunkIds chunk id of each landmark [nKvHeads, nLandmarks]
 * @param held chunk ids [nKvHeads, nHeld], distinct per head, each a landmark's chunk
 * @returns chunk ids [nKvHeads, nHeld + fresh], ascending within each head
 */
export function heldAndFreshCandidates(scores: Float32Array, positions: Int32Array, chunkIds: Int32Array, held: Int32Array, nKvHeads: number, fresh: number): Int32Array {
  const nLandmarks = chunkIds.length / nKvHeads;
  const nTop = positions.length / nKvHeads;
  const nHeld = held.length / nKvHeads;
  if (scores.length !== chunkIds.length || !Number.isInteger(nTop) || !Number.isInteger(nHeld) || nTop < nHeld + fresh) {
    throw new ShapeError('heldAndFreshCandidates', `scores [${scores.length}], chunkIds [${chunkIds.length}], ${positions.length} positions and ${held.length} held for ${nKvHeads} heads: need nTop >= nHeld + fresh (${nHeld} + ${fresh})`);
  }
  const out = new Int32Array(nKvHeads * (nHeld + fresh));
  // The `fresh` best others so far, best first (an insertion list: fresh is a few dozen at most).
  const bestPos = new Int32Array(fresh);
  const bestScore = new Float32Array(fresh);
  let top = 0;
  for (let i = 0; i < held.length; i++) top = Math.max(top, held[i] + 1);
  if (slotOf.length < top) slotOf = new Int32Array(Math.max(top, 2 * slotOf.length)).fill(-1);
  for (let h = 0; h < nKvHeads; h++) {
    const heldH = held.subarray(h * nHeld, (h + 1) * nHeld);
    const base = h * nLandmarks;
    for (let i = 0; i < nTop; i++) {
      const p = positions[h * nTop + i];
      if (p < 0 || p >= nLandmarks) throw new ShapeError('heldAndFreshCandidates', `position ${p} of head ${h} is outside [0, ${nLandmarks})`);
    }
    for (let s = 0; s < nHeld; s++) if (heldH[s] >= 0) slotOf[heldH[s]] = s; // marked, unmarked below (nothing throws between)
    let n = 0;
    for (let i = 0; i < nTop; i++) {
      const p = positions[h * nTop + i];
      const c = chunkIds[base + p];
      if (c >= 0 && c < top && slotOf[c] >= 0) continue;
      const sc = scores[base + p];
      // Insert p after every kept one that beats it (higher score, or equal at a lower position).
      let j = Math.min(n, fresh);
      while (j > 0 && (bestScore[j - 1] < sc || (bestScore[j - 1] === sc && bestPos[j - 1] > p))) {
        if (j < fresh) {
          bestScore[j] = bestScore[j - 1];
          bestPos[j] = bestPos[j - 1];
        }
        j--;
      }
      if (j < fresh) {
        bestScore[j] = sc;
        bestPos[j] = p;
      }
      n++;
    }
    for (let s = 0; s < nHeld; s++) if (heldH[s] >= 0) slotOf[heldH[s]] = -1;
    if (n < fresh) throw new ShapeError('heldAndFreshCandidates', `head ${h}: ${n} of the top ${nTop} landmarks are not held, fewer than ${fresh}; a held chunk is not a landmark, or repeated`);
    const row = out.subarray(h * (nHeld + fresh), (h + 1) * (nHeld + fresh));
    row.set(heldH);
    for (let i = 0; i < fresh; i++) row[nHeld + i] = chunkIds[base + bestPos[i]];
    row.sort();
  }
  return out;
}

/** topChunksByMass's per-candidate masses and their sorted copy, kept between calls (it runs per layer and step). */
let massScratch = new Float64Array(0);

/**
 * Host half of refineChunks: per KV head the `count` candidates with the largest summed token score.
 * @param tokenScores [nKvHeads, nCand*chunkSize], candidate k's tokens at k*chunkSize..(k+1)*chunkSize
 * @param candidates chunk ids [nKvHeads, nCand]
 * @returns chunk ids [nKvHeads, count], ascending within each head
 */
export function topChunksByMass(tokenScores: Float32Array, candidates: Int32Array, nKvHeads: number, chunkSize: number, count: number, out?: Int32Array): Int32Array {
  const nCand = candidates.length / nKvHeads;
  if (tokenScores.length !== candidates.length * chunkSize) {
    throw new ShapeError('topChunksByMass', `${tokenScores.length} token scores, [${nKvHeads}, ${nCand}*${chunkSize}] needs ${candidates.length * chunkSize}`);
  }
  const res = out ?? new Int32Array(nKvHeads * count);
  // This runs per layer and decode step: the count-th largest mass comes from a native sort of a copy, then one
  // pass keeps the larger masses and, of those equal to it, the lowest chunk ids (a comparator sort cost several
  // times more).
  if (massScratch.length < 2 * nCand) massScratch = new Float64Array(2 * nCand);
  const mass = massScratch.subarray(0, nCand);
  const sorted = massScratch.subarray(nCand, 2 * nCand);
  for (let h = 0; h < nKvHeads; h++) {
    const ids = candidates.subarray(h * nCand, (h + 1) * nCand);
    for (let k = 0; k < nCand; k++) {
      let m = 0;
      const o = (h * nCand + k) * chunkSize;
      for (let j = 0; j < chunkSize; j++) m += tokenScores[o + j];
      mass[k] = Number.isNaN(m) ? -Infinity : m; // a NaN score ranks last instead of breaking the threshold
    }
    sorted.set(mass);
    sorted.sort();
    const thr = sorted[nCand - count];
    const best = res.subarray(h * count, (h + 1) * count);
    let n = 0;
    for (let k = 0; k < nCand; k++) if (mass[k] > thr) best[n++] = ids[k];
    // The rest of the count from the masses equal to the threshold, lowest chunk ids first.
    while (n < count) {
      let pick = -1;
      for (let k = 0; k < nCand; k++) {
        if (mass[k] === thr && (pick < 0 || ids[k] < ids[pick])) {
          let taken = false;
          for (let i = 0; i < n; i++) if (best[i] === ids[k]) taken = true;
          if (!taken) pick = k;
        }
      }
      best[n++] = ids[pick];
    }
    best.sort();
  }
  return res;
}
