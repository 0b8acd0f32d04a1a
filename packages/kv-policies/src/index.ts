// Public API of @shadowkv/kv-policies (being built; see the issue that introduced this package).
export {};
