import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '@shadowkv/vitest-config';

export default defineConfig(sharedTestConfig);
