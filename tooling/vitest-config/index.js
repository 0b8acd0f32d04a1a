// Shared vitest preset: tests resolve workspace packages to their TypeScript source
// through the "@shadowkv/source" export condition, so no build is needed to test.
export const sharedTestConfig = {
  resolve: { conditions: ['@shadowkv/source'] },
  ssr: { resolve: { conditions: ['@shadowkv/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'examples/*/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
};
