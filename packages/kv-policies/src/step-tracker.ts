// A state's view of the steps the forward pass announces: seqLen, the open step, and the checks on both.
import { KvCapacityError, ShapeError, type KvAppendInput, type KvStep } from '@shadowkv/core';

/**
 * Keeps seqLen and the open step of one KvCacheState. The forward pass owns the positions (beginStep/endStep);
 * this only checks that what arrives matches them, so no state infers a step's end from the layer index.
 */
export class StepTracker {
  private length = 0;
  private open: KvStep | undefined;
  /** Layers attended or appended in the open step. */
  private readonly layersSeen = new Set<number>();
  /** Layer-major steps: per layer, the end of the pieces received so far (the next piece starts there). */
  private covered: number[] = [];

  constructor(
    private readonly policy: string,
    private readonly capacity: number,
    private readonly nLayers: number,
  ) {}

  get seqLen(): number {
    return this.length;
  }

  /** The step begun and not yet ended. */
  get current(): KvStep | undefined {
    return this.open;
  }

  begin(step: KvStep): void {
    const { start, m } = step;
    if (this.open) {
      throw new ShapeError(`${this.policy}.beginStep`, `the step at position ${this.open.start} (${this.open.m} tokens) was not ended; call endStep after the last layer`);
    }
    if (!Number.isInteger(start) || !Number.isInteger(m) || start < 0 || m < 1) {
      throw new ShapeError(`${this.policy}.beginStep`, `a step needs an integer start >= 0 and m >= 1, got start ${start}, m ${m}`);
    }
    if (start > this.length) {
      throw new ShapeError(`${this.policy}.beginStep`, `a step at position ${start} would leave a gap: ${this.length} tokens are stored`);
    }
    if (start + m > this.capacity) throw new KvCapacityError(this.policy, start + m, this.capacity);
    this.open = { start, m, ...(step.layerMajor ? { layerMajor: true } : {}) };
    if (step.layerMajor) this.covered = new Array<number>(this.nLayers).fill(start);
  }

  /** In a layer-major step: whether every piece of `layer` has arrived. */
  layerComplete(layer: number): boolean {
    const s = this.open;
    return Boolean(s?.layerMajor) && this.covered[layer] === (s as KvStep).start + (s as KvStep).m;
  }

  /** Throws unless `input` is a layer of the open step. */
  check(op: string, { layer, start, m }: Pick<KvAppendInput, 'layer' | 'start' | 'm'>): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.nLayers) throw new ShapeError(`${this.policy}.${op}`, `layer ${layer} is outside [0, ${this.nLayers})`);
    const s = this.open;
    if (!s) throw new ShapeError(`${this.policy}.${op}`, 'no step is open; the forward pass calls beginStep({ start, m }) before the first layer');
    if (s.layerMajor) return this.checkPiece(op, layer, start, m, s);
    if (start !== s.start || m !== s.m) {
      throw new ShapeError(`${this.policy}.${op}`, `layer ${layer} brings tokens ${start}..${start + m - 1}, but the open step is ${s.start}..${s.start + s.m - 1}`);
    }
    if (this.layersSeen.has(layer)) throw new ShapeError(`${this.policy}.${op}`, `layer ${layer} was already given this step's tokens`);
    this.layersSeen.add(layer);
  }

  /** A layer-major step's piece: within the step, starting where the layer's previous piece ended, layers in order. */
  private checkPiece(op: string, layer: number, start: number, m: number, s: KvStep): void {
    const expected = this.covered[layer];
    if (!Number.isInteger(m) || m < 1 || start !== expected || start + m > s.start + s.m) {
      throw new ShapeError(`${this.policy}.${op}`, `layer ${layer} brings tokens ${start}..${start + m - 1}, but the layer-major step ${s.start}..${s.start + s.m - 1} expects its next piece at ${expected}`);
    }
    if (layer > 0 && !this.layerComplete(layer - 1)) {
      throw new ShapeError(`${this.policy}.${op}`, `layer ${layer} of a layer-major step comes after all of layer ${layer - 1}'s tokens`);
    }
    this.covered[layer] = start + m;
    this.layersSeen.add(layer);
  }

  /** Ends the open step; returns it. */
  end(): KvStep {
    const s = this.open;
    if (!s) throw new ShapeError(`${this.policy}.endStep`, 'no step is open (beginStep was not called, or endStep was called twice)');
    if (s.layerMajor) {
      const short = this.covered.findIndex((c) => c !== s.start + s.m);
      if (short >= 0) throw new ShapeError(`${this.policy}.endStep`, `layer ${short} of the layer-major step got tokens up to ${this.covered[short]} of ${s.start + s.m}`);
    }
    if (this.layersSeen.size !== this.nLayers) {
      throw new ShapeError(`${this.policy}.endStep`, `only ${this.layersSeen.size} of ${this.nLayers} layers got the step's tokens`);
    }
    this.layersSeen.clear();
    this.open = undefined;
    this.length = s.start + s.m;
    return s;
  }
}
