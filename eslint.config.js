// Lint: typescript-eslint's recommended rules, plus the layering of docs/ARCHITECTURE.md:
//   core  <  util  <  image, net, state, guest, export  <  drivers  <  engine, security, compose  <  cli, bench, advise
// A layer imports only from the layers below it; each arrow of that line is one rule below,
// except that the resources (image, net, state, guest, export) may import each other.
// Import cycles are caught by a unit test (test/unit/architecture/cycles.test.ts), which also
// reads type-only imports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const CONCRETE_DRIVER = {
  group: ['**/drivers/container/**', '**/drivers/vm/**', '**/drivers/hybrid/**'],
  message: 'Only src/drivers/registry.ts may import a concrete driver; use the Driver interface.',
};
const ANY_DRIVER = {
  group: ['**/drivers/**'],
  message: 'Layers below the drivers (core, util, image, net, state, guest) do not import drivers/; move shared types to src/core/.',
};
const ABOVE_CORE = {
  group: ['../*', '!../core', '!../core/**'],
  message: 'src/core/ imports nothing of isola outside src/core/: it is the vocabulary every layer shares.',
};
const RESOURCES = {
  group: ['**/image/**', '**/net/**', '**/state/**', '**/guest/**', '**/export/**'],
  message: 'src/util/ sits below the resources (image, net, state, guest, export); move what both need to src/util/ or src/core/.',
};
const EDGES = {
  group: ['**/cli/**', '**/bench/**', '**/advise/**', '**/api/**'],
  message: 'The engine and the security profile sit below the edges (cli, bench, advise, api); they must not import them.',
};
const ENGINE_AND_UP = {
  group: ['**/engine/**', '**/cli/**', '**/bench/**', '**/advise/**', '**/security/**', '**/api/**', '**/compose/**'],
  message: 'This layer sits below the engine; it must not import the engine or what is built on it.',
};

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
    // The environment is read once, into the typed configuration (src/core/config.ts).
    files: ['src/**/*.ts'],
    ignores: ['src/core/config.ts'],
    rules: {
      'no-restricted-properties': ['error', {
        object: 'process', property: 'env',
        message: 'Read configuration from the Config object (src/core/config.ts), the one place that reads process.env.',
      }],
    },
  },
  // One block per layer: a later block's no-restricted-imports would replace an earlier one's.
  {
    files: ['src/cli/**/*.ts', 'src/api/**/*.ts', 'src/bench/**/*.ts', 'src/advise/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [CONCRETE_DRIVER] }] },
  },
  {
    files: ['src/engine/**/*.ts', 'src/security/**/*.ts', 'src/compose/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [CONCRETE_DRIVER, EDGES] }] },
  },
  {
    files: ['src/drivers/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ENGINE_AND_UP] }] },
  },
  {
    files: ['src/image/**/*.ts', 'src/net/**/*.ts', 'src/state/**/*.ts', 'src/guest/**/*.ts', 'src/export/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ANY_DRIVER, ENGINE_AND_UP] }] },
  },
  {
    files: ['src/util/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ANY_DRIVER, ENGINE_AND_UP, RESOURCES] }] },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [ABOVE_CORE] }] },
  },
);
