// @ts-check
// @shadowkv/kernels-gpujs: a gpu.js (WebGL) backend; gpu.js is an optional peer you install yourself.
import { gpujs } from '@shadowkv/kernels-gpujs';

try {
  const backend = await gpujs();
  const x = backend.upload(new Float32Array([1, 2, 3, 4]), [1, 4]);
  console.log('softmax on', backend.name, Array.from(await backend.read(backend.softmax(x)), (v) => v.toFixed(3)).join(' '));
} catch (err) {
  console.log(`gpu.js backend unavailable here: ${/** @type {Error} */ (err).message}`);
}
