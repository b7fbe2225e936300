// Lint: typescript-eslint's recommended rules, plus the one architectural boundary that
// matters most: the engine never imports a concrete driver (only drivers/registry.ts does).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bin/**', 'web/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/engine/**/*.ts', 'src/cli/**/*.ts', 'src/bench/**/*.ts', 'src/advise/**/*.ts', 'src/security/**/*.ts', 'src/state/**/*.ts', 'src/image/**/*.ts', 'src/net/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/drivers/container/**', '**/drivers/vm/**', '**/drivers/hybrid/**'],
          message: 'Only src/drivers/registry.ts may import a concrete driver; use the Driver interface.' }],
      }],
    },
  },
);
