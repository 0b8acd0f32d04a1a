// A fingerprint of a model folder's contents: what saved sessions and prefill recordings are keyed by.
import { createHash } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes read from each weight file for its fingerprint: SAMPLES blocks of SAMPLE_BYTES, evenly spaced. */
const SAMPLES = 16;
const SAMPLE_BYTES = 64 * 1024;

/**
 * config.json's bytes, and per `*.safetensors` file its name, size and SAMPLES blocks spread over it (the first
 * holds the header). Reads at most 1 MiB a file, and unlike a path or mtime key it survives copies and re-mounts
 * of the same files while catching retrained weights. 16 hex digits.
 */
export async function modelFingerprint(modelDir: string): Promise<string> {
  const h = createHash('sha256');
  h.update(await readFile(join(modelDir, 'config.json')));
  const files = (await readdir(modelDir)).filter((f) => f.endsWith('.safetensors')).sort();
  for (const f of files) {
    const fh = await open(join(modelDir, f), 'r');
    try {
      const { size } = await fh.stat();
      h.update(`${f}:${size}`);
      const block = Buffer.alloc(Math.min(SAMPLE_BYTES, size));
      for (let i = 0; i < SAMPLES && size > 0; i++) {
        const at = Math.floor(((size - block.length) * i) / Math.max(SAMPLES - 1, 1));
        const { bytesRead } = await fh.read(block, 0, block.length, at);
        h.update(block.subarray(0, bytesRead));
      }
    } finally {
      await fh.close();
    }
  }
  return h.digest('hex').slice(0, 16);
}
