// @ts-check
// @shadowkv/kernels-webgpu: navigator.gpu in browsers; in Node the optional peer `webgpu` (Dawn) must be installed.
import { webgpu } from '@shadowkv/kernels-webgpu';

try {
  const backend = await webgpu();
  const x = backend.upload(new Float32Array([1, 2, 3, 4]), [1, 4]);
  console.log('softmax on', backend.name, Array.from(await backend.read(backend.softmax(x)), (v) => v.toFixed(3)).join(' '));
} catch (err) {
  // BackendUnavailableError: says what is missing (Dawn not installed, no adapter) and what to do.
  console.log(`WebGPU unavailable here: ${/** @type {Error} */ (err).message}`);
}
