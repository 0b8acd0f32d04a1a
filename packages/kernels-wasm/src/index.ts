// Public API of @shadowkv/kernels-wasm (being built; see the issue that introduced this package).
export {};
