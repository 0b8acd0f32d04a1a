// Public API of @shadowkv/kernels-cuda (being built; see the issue that introduced this package).
export {};
