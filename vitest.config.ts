import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/js/**/*.test.ts'],
    testTimeout: 60_000,
    typecheck: {
      enabled: true,
      include: ['test/js/**/*.test-d.ts'],
      tsconfig: './test/tsconfig.json',
    },
  },
});
