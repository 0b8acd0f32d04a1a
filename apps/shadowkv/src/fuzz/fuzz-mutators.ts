// Mutations of a model folder, one category per file kind of the issue: safetensors headers, the shard index,
// config.json, tokenizer.json, tokenizer_config.json and chat templates. Each case is a pure function of
// (seed, id), so any case can be replayed alone (`--only ID`).
import { assembleSafetensors, type ModelFiles } from './fuzz-base-model.js';
import { damageText, DEEP_MARK, FuzzRandom, randomPath, serialize, setPath, wildValue } from './fuzz-random.js';

export const CATEGORIES = ['safetensors', 'index', 'config', 'tokenizer', 'tokenizer_config', 'chat_template'] as const;
export type Category = (typeof CATEGORIES)[number];

/** One fuzz case: which files change, and a `kind: detail` description for the report. */
export interface FuzzCase {
  id: number;
  category: Category;
  kind: string;
  detail: string;
  files: ModelFiles;
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
/** Files marked for deletion carry this zero-length sentinel. */
export const DELETED = new Uint8Array(0);

/** The case `id` of a run seeded with `seed`; categories rotate so every category gets its share. */
export function makeCase(base: { single: ModelFiles; sharded: ModelFiles }, seed: number, id: number, categories: readonly Category[] = CATEGORIES): FuzzCase {
  const r = new FuzzRandom(seed, id);
  const category = categories[id % categories.length];
  const files: ModelFiles = { ...(category === 'index' ? base.sharded : base.single) };
  const m = MUTATORS[category](files, r);
  return { id, category, kind: m.kind, detail: m.detail.length > 160 ? `${m.detail.slice(0, 157)}...` : m.detail, files };
}

type Mutator = (files: ModelFiles, r: FuzzRandom) => { kind: string; detail: string };

/** Generic JSON damage: a wild value, deletion or deep nesting at a random path, or byte-level text damage. */
function mutateJsonFile(files: ModelFiles, name: string, r: FuzzRandom, json: unknown): { kind: string; detail: string } {
  if (r.chance(0.25)) {
    const d = damageText(dec(files[name]), r);
    files[name] = enc(d.text);
    return { kind: 'text', detail: d.detail };
  }
  const path = randomPath(json, r);
  const op = r.int(3);
  const value = op === 0 ? undefined : op === 1 ? DEEP_MARK : wildValue(r);
  const root = setPath(json, path, value);
  files[name] = enc(serialize(root, r));
  return { kind: op === 0 ? 'delete' : op === 1 ? 'deep' : 'wild', detail: `${path.join('.') || '(root)'} = ${showValue(value)}` };
}

function showValue(v: unknown): string {
  if (v === undefined) return '(deleted)';
  if (v === DEEP_MARK) return '(deep nesting)';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function readHeader(file: Uint8Array): { header: Record<string, Record<string, unknown>>; data: Uint8Array; text: string } {
  const len = Number(new DataView(file.buffer, file.byteOffset, file.byteLength).getBigUint64(0, true));
  const text = dec(file.subarray(8, 8 + len));
  return { header: JSON.parse(text), data: file.subarray(8 + len), text };
}

const DTYPES = ['F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'I32', 'I64', 'BOOL', 'F8_E4M3', 'f32', 'X'];

const safetensors: Mutator = (files, r) => {
  const name = 'model.safetensors';
  const file = files[name];
  const { header, data, text } = readHeader(file);
  const tensors = Object.keys(header).filter((k) => k !== '__metadata__');
  const t = r.pick(tensors);
  const entry = header[t] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  const rebuild = (h: unknown, d: Uint8Array = data) => (files[name] = assembleSafetensors(serialize(h, r), [d]));
  switch (r.int(12)) {
    case 0: {
      const field = r.pick(['dtype', 'shape', 'data_offsets']);
      const v = wildValue(r);
      (entry as Record<string, unknown>)[field] = v;
      rebuild(header);
      return { kind: 'entry-wild', detail: `${t}.${field} = ${showValue(v)}` };
    }
    case 1: {
      const [a, b] = entry.shape;
      const variants: [string, number[]][] = [
        ['transposed', b === undefined ? [a] : [b, a]],
        ['extra dim', [...entry.shape, 1]],
        ['zero', entry.shape.map(() => 0)],
        ['huge', entry.shape.map(() => 1e9)],
        ['negative', entry.shape.map((d) => -d)],
        ['fractional', entry.shape.map((d) => d + 0.5)],
        ['dropped dim', entry.shape.slice(1)],
      ];
      const [what, shape] = r.pick(variants);
      entry.shape = shape;
      rebuild(header);
      return { kind: 'shape', detail: `${t} ${what} ${JSON.stringify(shape)}` };
    }
    case 2: {
      const [b, e] = entry.data_offsets;
      const variants: [number, number][] = [[e, b], [b, e + 1], [b - 1, e], [0, 0], [b, 2 ** 53], [b + 2, e + 2], [-1, e], [b, b]];
      entry.data_offsets = r.pick(variants);
      rebuild(header);
      return { kind: 'offsets', detail: `${t} ${JSON.stringify(entry.data_offsets)}` };
    }
    case 3: {
      const dt = r.pick(DTYPES);
      entry.dtype = dt;
      rebuild(header);
      return { kind: 'dtype', detail: `${t} ${dt}` };
    }
    case 4: {
      delete header[t];
      rebuild(header);
      return { kind: 'delete-entry', detail: t };
    }
    case 5: {
      // A valid extra tensor appended at the end of the data: the file is well-formed, the config does not explain it.
      const extra = r.pick(['model.layers.2.mlp.up_proj.weight', 'model.extra.weight', 'model.layers.0.self_attn.rotary_emb.inv_freq', 'lm_head.bias']);
      header[extra] = { dtype: 'F32', shape: [4], data_offsets: [data.byteLength, data.byteLength + 16] };
      const grown = new Uint8Array(data.byteLength + 16);
      grown.set(data);
      rebuild(header, grown);
      return { kind: 'extra-tensor', detail: extra };
    }
    case 6: {
      header.__metadata__ = r.chance(0.5) ? (wildValue(r) as Record<string, unknown>) : { format: wildValue(r) as never };
      rebuild(header);
      return { kind: 'metadata', detail: showValue(header.__metadata__) };
    }
    case 7: {
      const view = new Uint8Array(file);
      const dv = new DataView(view.buffer, view.byteOffset, 8);
      const len = Number(dv.getBigUint64(0, true));
      const v = r.pick([0n, 1n, 2n ** 63n, BigInt(len + 1 + r.int(100)), BigInt(Math.max(0, len - 1 - r.int(100))), BigInt(file.byteLength), 2n ** 64n - 1n]);
      dv.setBigUint64(0, v, true);
      files[name] = view;
      return { kind: 'header-length', detail: String(v) };
    }
    case 8: {
      const at = r.int(file.byteLength);
      files[name] = file.subarray(0, at);
      return { kind: 'truncate', detail: `at ${at} of ${file.byteLength}` };
    }
    case 9: {
      // Non-finite weights: a NaN or Inf pattern written into one element of a tensor.
      const { data_offsets: [b, e], dtype } = entry;
      const bytes = new Uint8Array(data);
      const width = dtype === 'F32' ? 4 : 2;
      const at = b + width * r.int(Math.max(1, (e - b) / width));
      const pattern = width === 4 ? r.pick([[0, 0, 0xc0, 0x7f], [0, 0, 0x80, 0x7f], [0, 0, 0x80, 0xff]]) : r.pick(dtype === 'F16' ? [[0, 0x7e], [0, 0x7c]] : [[0xc0, 0x7f], [0x80, 0x7f], [0x80, 0xff]]);
      bytes.set(pattern, at);
      files[name] = assembleSafetensors(text.trimEnd(), [bytes]);
      return { kind: 'non-finite-weight', detail: `${t} byte ${at - b}` };
    }
    case 10: {
      const bytes = new Uint8Array(data);
      const { data_offsets: [b, e] } = entry;
      for (let i = b; i < e; i++) bytes[i] = r.int(256);
      files[name] = assembleSafetensors(text.trimEnd(), [bytes]);
      return { kind: 'random-weights', detail: t };
    }
    default: {
      const d = damageText(text, r);
      files[name] = assembleSafetensors(d.text, [data]);
      return { kind: 'header-text', detail: d.detail };
    }
  }
};

const index: Mutator = (files, r) => {
  const name = 'model.safetensors.index.json';
  const json = JSON.parse(dec(files[name])) as { metadata: unknown; weight_map: Record<string, unknown> };
  const names = Object.keys(json.weight_map);
  const t = r.pick(names);
  const save = () => (files[name] = enc(serialize(json, r)));
  switch (r.int(9)) {
    case 0: {
      const v = r.pick(['../model.safetensors', '/etc/passwd', 'a/b.safetensors', 'model.safetensors', 'missing.safetensors', 'model-00001-of-00002.safetensors\u0000', '', 'C:\\x.safetensors']);
      json.weight_map[t] = v;
      save();
      return { kind: 'shard-name', detail: `${t} -> ${JSON.stringify(v)}` };
    }
    case 1: {
      const shards = [...new Set(Object.values(json.weight_map))] as string[];
      json.weight_map[t] = shards.find((s) => s !== json.weight_map[t]);
      save();
      return { kind: 'wrong-shard', detail: t };
    }
    case 2:
      delete json.weight_map[t];
      save();
      return { kind: 'drop-entry', detail: t };
    case 3:
      json.weight_map[r.pick(['model.layers.9.mlp.up_proj.weight', 'bogus'])] = 'model-00001-of-00002.safetensors';
      save();
      return { kind: 'extra-entry', detail: 'names a tensor no shard holds' };
    case 4: {
      const shard = r.pick(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors', name]);
      files[shard] = DELETED;
      return { kind: 'delete-file', detail: shard };
    }
    default:
      return mutateJsonFile(files, name, r, json);
  }
};

const SIZE_FIELDS = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'max_position_embeddings'];
const ROPE_TYPES = ['default', 'linear', 'dynamic', 'llama3', 'yarn', 'longrope', 'su', 'bogus'];

const config: Mutator = (files, r) => {
  const name = 'config.json';
  const json = JSON.parse(dec(files[name])) as Record<string, unknown>;
  const save = () => (files[name] = enc(serialize(json, r)));
  switch (r.int(8)) {
    case 0: {
      const f = r.pick(SIZE_FIELDS);
      const v = r.pick([0, 1, 3, 1e6, 1e7, 1e9, 2 ** 31, 2 ** 53, 1e300, -1, 0.5, 33, 64, 513]);
      json[f] = v;
      save();
      return { kind: 'size', detail: `${f} = ${v}` };
    }
    case 1: {
      const type = r.pick(ROPE_TYPES);
      const scaling: Record<string, unknown> = { [r.chance(0.5) ? 'type' : 'rope_type']: type };
      for (const k of ['factor', 'original_max_position_embeddings', 'low_freq_factor', 'high_freq_factor']) if (r.chance(0.6)) scaling[k] = r.chance(0.7) ? r.pick([1, 2, 4, 8, 0.5, 256, 1e6, 0, -1]) : wildValue(r);
      json[r.chance(0.8) ? 'rope_scaling' : 'rope_parameters'] = scaling;
      save();
      return { kind: 'rope', detail: showValue(scaling) };
    }
    case 2: {
      const f = r.pick(['rope_theta', 'rms_norm_eps']);
      const v = r.pick([1e-300, 0, -1, 0.5, 1, 1e6, 1e12, 1e13, 1e300, 1e-30]);
      json[f] = v;
      save();
      return { kind: 'rope-theta-eps', detail: `${f} = ${v}` };
    }
    case 3: {
      const f = r.pick(['architectures', 'model_type', 'hidden_act', 'attention_bias', 'mlp_bias', 'tie_word_embeddings', 'bos_token_id', 'eos_token_id', 'torch_dtype']);
      const v = r.chance(0.5) ? wildValue(r) : r.pick([['MistralForCausalLM'], 'mistral', 'gelu', true, 600, [1, 2, 9999], 'float8']);
      json[f] = v;
      save();
      return { kind: 'field', detail: `${f} = ${showValue(v)}` };
    }
    default:
      return mutateJsonFile(files, name, r, json);
  }
};

const COMPONENT_TYPES: Record<string, string[]> = {
  normalizer: ['NFC', 'NFKC', 'Lowercase', 'Strip', 'Replace', 'Prepend', 'Sequence', 'Precompiled', 'BertNormalizer', 'Bogus'],
  pre_tokenizer: ['ByteLevel', 'Split', 'Metaspace', 'Whitespace', 'Digits', 'Sequence', 'Punctuation', 'Bogus'],
  post_processor: ['TemplateProcessing', 'ByteLevel', 'BertProcessing', 'RobertaProcessing', 'Sequence', 'Bogus'],
  decoder: ['ByteLevel', 'Metaspace', 'WordPiece', 'BPEDecoder', 'CTC', 'Sequence', 'Replace', 'Fuse', 'Strip', 'ByteFallback', 'Bogus'],
};
const LIST_KEY: Record<string, string> = { normalizer: 'normalizers', pre_tokenizer: 'pretokenizers', post_processor: 'processors', decoder: 'decoders' };

function randomComponent(kind: string, r: FuzzRandom, depth = 0): unknown {
  if (r.chance(0.1)) return null;
  const type = r.pick(COMPONENT_TYPES[kind]);
  const c: Record<string, unknown> = { type };
  if (type === 'Sequence') c[LIST_KEY[kind]] = depth > 2 ? [null] : Array.from({ length: 1 + r.int(3) }, () => randomComponent(kind, r, depth + 1));
  for (const k of ['pattern', 'content', 'replacement', 'prepend', 'add_prefix_space', 'single', 'pair', 'special_tokens', 'prefix', 'start', 'stop', 'behavior']) {
    if (r.chance(0.25)) c[k] = r.chance(0.5) ? wildValue(r) : r.pick([{ String: ' ' }, { Regex: '\\s+' }, { Regex: '(' }, '▁', true, ['$A'], 1]);
  }
  return c;
}

const tokenizer: Mutator = (files, r) => {
  const name = 'tokenizer.json';
  const json = JSON.parse(dec(files[name])) as Record<string, unknown> & { model: Record<string, unknown> & { vocab: Record<string, unknown>; merges: unknown[] }; added_tokens: Record<string, unknown>[] };
  const save = () => (files[name] = enc(serialize(json, r)));
  switch (r.int(10)) {
    case 0: {
      const tok = r.pick(Object.keys(json.model.vocab));
      const v = r.pick([1e9, -1, 1.5, 'x', null, 511, 0, 2 ** 31, 4_194_304, 600]);
      json.model.vocab[tok] = v;
      save();
      return { kind: 'vocab-id', detail: `${JSON.stringify(tok)} = ${showValue(v)}` };
    }
    case 1: {
      const i = r.int(json.added_tokens.length);
      const f = r.pick(['id', 'content', 'special', '(entry)']);
      const v = r.chance(0.5) ? wildValue(r) : r.pick([1e9, 600, -1, null, '', 'hello']);
      if (f === '(entry)') (json.added_tokens as unknown[])[i] = v;
      else json.added_tokens[i][f] = v;
      save();
      return { kind: 'added-token', detail: `[${i}].${f} = ${showValue(v)}` };
    }
    case 2:
    case 3: {
      const kind = r.pick(Object.keys(COMPONENT_TYPES));
      const c = r.chance(0.15) ? DEEP_MARK : randomComponent(kind, r);
      json[kind] = c;
      save();
      return { kind: `component-${kind}`, detail: showValue(c) };
    }
    case 4: {
      const post = json.post_processor as Record<string, unknown>;
      const f = r.pick(['single', 'pair', 'special_tokens']);
      const v = r.pick([null, [], [null], [{ SpecialToken: { id: '<|nope|>', type_id: 0 } }], [{ Sequence: { id: 'Z', type_id: 0 } }], wildValue(r)]);
      post[f] = v;
      save();
      return { kind: 'post-processor', detail: `${f} = ${showValue(v)}` };
    }
    case 5: {
      const merges = json.model.merges;
      const i = r.int(merges.length);
      const v = r.pick([null, 'a', 'zz qq', ['a'], ['zz', 'qq'], 5, wildValue(r)]);
      if (r.chance(0.2)) {
        const all = wildValue(r);
        json.model.merges = all as unknown[];
        save();
        return { kind: 'merges', detail: `(all) = ${showValue(all)}` };
      }
      merges[i] = v;
      save();
      return { kind: 'merges', detail: `[${i}] = ${showValue(v)}` };
    }
    case 6: {
      const v = r.pick(['Unigram', 'WordPiece', 'WordLevel', 'Bogus', null, 5]);
      json.model.type = v;
      save();
      return { kind: 'model-type', detail: showValue(v) };
    }
    case 7:
      files[name] = DELETED;
      return { kind: 'delete-file', detail: name };
    default:
      return mutateJsonFile(files, name, r, json);
  }
};

const tokenizerConfig: Mutator = (files, r) => {
  const name = 'tokenizer_config.json';
  const json = JSON.parse(dec(files[name])) as Record<string, unknown>;
  const save = () => (files[name] = enc(serialize(json, r)));
  switch (r.int(6)) {
    case 0: {
      const f = r.pick(['bos_token', 'eos_token', 'unk_token', 'pad_token']);
      const v = r.pick(['<|nope|>', '', null, 5, { content: '<|eot_id|>' }, { content: 5 }, '<|begin_of_text|>', wildValue(r)]);
      json[f] = v;
      save();
      return { kind: 'special-token', detail: `${f} = ${showValue(v)}` };
    }
    case 1: {
      const v = r.pick([5, null, [], [{ name: 'default', template: 5 }], [{ name: 'x', template: '{{ 1 }}' }], [null], { template: 'x' }, wildValue(r)]);
      json.chat_template = v;
      save();
      return { kind: 'chat-template-value', detail: showValue(v) };
    }
    case 2:
      files[name] = DELETED;
      return { kind: 'delete-file', detail: name };
    default:
      return mutateJsonFile(files, name, r, json);
  }
};

/** Hostile templates: unbounded loops and ranges, growth by doubling, deep recursion, huge output, syntax damage. */
function evilTemplate(r: FuzzRandom): { kind: string; detail: string; source: string } {
  const n = r.pick([10, 1000, 100_000, 1e9, -1e9, 2 ** 53]);
  const snippets: [string, string][] = [
    ['range', `{% for i in range(${n}) %}x{% endfor %}`],
    ['nested-loops', `{% for i in range(${r.pick([100, 5000, 20000])}) %}{% for j in range(${r.pick([100, 5000, 20000])}) %}{{ j }}{% endfor %}{% endfor %}`],
    ['empty-nested-loops', `{% for i in range(16000) %}{% for j in range(16000) %}{% for k in range(16000) %}{% endfor %}{% endfor %}{% endfor %}`],
    ['string-doubling', `{% set ns = namespace(s='ab') %}{% for i in range(${r.pick([10, 30, 64])}) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}`],
    ['list-doubling', `{% set ns = namespace(a=[1]) %}{% for i in range(${r.pick([10, 30, 64])}) %}{% set ns.a = ns.a + ns.a %}{% endfor %}{{ ns.a|length }}`],
    ['macro-recursion', `{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`],
    ['tojson-indent', `{{ messages|tojson(indent=${n}) }}`],
    ['deep-parens', `{{ ${'('.repeat(r.pick([100, 10000]))}1${')'.repeat(r.pick([100, 10000]))} }}`],
    ['deep-blocks', `${'{% if true %}'.repeat(r.pick([100, 3000]))}x${'{% endif %}'.repeat(r.pick([100, 3000]))}`],
    ['long-literal', `{{ '${'y'.repeat(r.pick([1000, 300_000]))}' }}`],
    ['raise', `{{ raise_exception('no') }}`],
    ['undefined', `{{ nothing.at.all() }}{{ messages[999].content }}`],
    ['join-range', `{{ range(${n})|join(',') }}`],
    ['strftime', `{{ strftime_now('%Y-%m-%d %B') }}{{ strftime_now(5) }}`],
    ['string-ops', `{{ (messages[0].content * 3)|replace('h', 'hhhh')|upper|center(${n}) }}`],
    ['loop-over-string', `{% for c in 'x' * 5 %}{{ c }}{% endfor %}`],
  ];
  const [kind, source] = r.pick(snippets);
  return { kind: `evil-${kind}`, detail: source.length > 120 ? `${source.slice(0, 117)}...` : source, source };
}

const chatTemplate: Mutator = (files, r) => {
  const cfgName = 'tokenizer_config.json';
  const cfg = JSON.parse(dec(files[cfgName])) as Record<string, unknown>;
  const real = cfg.chat_template as string;
  let kind: string;
  let detail: string;
  let source: string;
  if (r.chance(0.55)) ({ kind, detail, source } = evilTemplate(r));
  else {
    const d = damageText(real, r);
    const jinja = r.pick(['{%', '%}', '{{', '}}', '{% endfor %}', '{% for x in messages %}', '{% set a = ', '|', ' if ', '{#', 'loop.', '(', '[']);
    const at = r.int(real.length);
    source = r.chance(0.5) ? d.text : real.slice(0, at) + jinja + real.slice(at);
    kind = 'damaged-real';
    detail = source === d.text ? d.detail : `insert ${JSON.stringify(jinja)} at ${at}`;
  }
  if (r.chance(0.3)) {
    files['chat_template.jinja'] = enc(source);
    kind += ' (jinja file)';
  } else {
    cfg.chat_template = source;
    files[cfgName] = enc(JSON.stringify(cfg));
  }
  return { kind, detail };
};

const MUTATORS: Record<Category, Mutator> = {
  safetensors,
  index,
  config,
  tokenizer,
  tokenizer_config: tokenizerConfig,
  chat_template: chatTemplate,
};
