// The page's entry: fills the form from the query string, runs a generation on submit (or at once with
// ?autorun=1), streams the tokens into the page and exposes the outcome as window.__result / window.__error.
import { OPTION_FIELDS, parsePageOptions } from './page-options.js';
import { runGeneration, type AdapterReport, type PageResult } from './run-generation.js';

declare global {
  interface Window {
    /** Set when a generation finishes (read by the headless-browser test). */
    __result?: PageResult;
    /** Set when a generation fails. */
    __error?: { name: string; message: string };
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const status = $<HTMLParagraphElement>('status');
const tokensEl = $<HTMLDivElement>('tokens');
const textEl = $<HTMLDivElement>('text');
const query = new URLSearchParams(location.search);

for (const name of OPTION_FIELDS) {
  const v = query.get(name);
  if (v !== null) (form.elements.namedItem(name) as HTMLInputElement).value = v;
}

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle('error', error);
}

function showAdapter(a: AdapterReport): void {
  const f16 = a.features.includes('shader-f16') ? 'shader-f16' : 'no shader-f16';
  $('adapter').textContent = `Adapter: ${[a.vendor, a.architecture, a.description].filter((s) => s).join(' / ') || 'unknown'} · ${f16} · ${a.maxComputeInvocationsPerWorkgroup} invocations/workgroup`;
}

async function run(): Promise<void> {
  const button = $<HTMLButtonElement>('run');
  button.disabled = true;
  tokensEl.replaceChildren();
  textEl.textContent = '';
  $('stats').textContent = '';
  delete window.__result;
  delete window.__error;
  try {
    const data = new FormData(form);
    const opts = parsePageOptions((name) => (data.get(name) as string | null) ?? null);
    const result = await runGeneration(opts, {
      onStatus: (s) => setStatus(s),
      onAdapter: showAdapter,
      onToken: (chunk) => {
        if (chunk.tokenId >= 0) {
          const chip = document.createElement('span');
          chip.textContent = String(chunk.tokenId);
          chip.title = chunk.text;
          tokensEl.append(chip);
        }
        textEl.textContent += chunk.text;
      },
    });
    setStatus(`Done: ${result.tokens.length} tokens (${result.finishReason}) on ${result.backend}.`);
    $('stats').textContent =
      `prompt ${result.promptTokens} tokens · load ${result.loadMs.toFixed(0)} ms · prefill ${result.prefillMs.toFixed(0)} ms · ` +
      `decode ${result.decodeMs.toFixed(0)} ms (${result.decodeTokensPerSecond.toFixed(1)} tokens/s)`;
    window.__result = result;
  } catch (err) {
    const e = err as Error;
    setStatus(`${e.name}: ${e.message}`, true);
    window.__error = { name: e.name, message: e.message };
    console.error(err);
  } finally {
    button.disabled = false;
  }
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const next = new URLSearchParams();
  for (const name of OPTION_FIELDS) {
    const v = data.get(name);
    if (typeof v === 'string' && v !== '') next.set(name, v);
  }
  history.replaceState(null, '', `?${next}`);
  void run();
});

if (query.get('autorun') === '1') void run();
