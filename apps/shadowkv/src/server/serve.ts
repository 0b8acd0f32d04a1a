// `shadowkv serve`: runs the OpenAI-compatible server on a loaded engine until SIGINT/SIGTERM, then drains.
import type { Engine } from '../engine.js';
import { createOpenAiServer } from './openai-server.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** Fast-side KV budget in bytes (admission of requests). */
  kvMemory: number;
  maxQueue: number;
  /** Default prompt tokens per prefill chunk (a request may set its own `prefill_chunk_size`). */
  prefillChunkSize?: number;
  bodyLimit?: number;
  log?: (line: string) => void;
}

/**
 * Listens until the process gets SIGINT or SIGTERM; then stops accepting, lets running generations finish and
 * resolves (a second signal exits at once). The engine is the caller's to dispose.
 */
export async function serve(engine: Engine, o: ServeOptions): Promise<void> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const service = engine.scheduler({ kvMemory: o.kvMemory, maxQueue: o.maxQueue, prefillChunkSize: o.prefillChunkSize });
  const app = createOpenAiServer({ engine, service, bodyLimit: o.bodyLimit });
  const address = await app.listen({ host: o.host, port: o.port });
  log(`shadowkv serve: ${engine.model.dir} (policy ${engine.defaultPolicy.name}, backend ${engine.backend.name}) on ${address}/v1; Ctrl-C drains and stops`);
  await new Promise<void>((resolve, reject) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) {
        log(`shadowkv serve: ${sig} again, exiting without draining`);
        process.exit(130);
      }
      stopping = true;
      log(`shadowkv serve: ${sig}: no new requests; draining running ones`);
      app.close().then(() => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      }, reject);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  log('shadowkv serve: stopped');
}
