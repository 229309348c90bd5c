import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

/**
 * The layout's boundaries (docs/architecture.md): each Lambda folder under functions/ (and each
 * connector under functions/connectors/) may import only itself, functions/lib/ and config/; the
 * domain modules in functions/lib/ never import a Lambda folder; and nothing imports in a cycle.
 */
const root = dirname(fileURLToPath(import.meta.url));
const dirs = (path) =>
  readdirSync(join(root, path), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name);
const lambdaFolders = [
  ...dirs('functions')
    .filter((name) => name !== 'lib' && name !== 'connectors')
    .map((name) => `functions/${name}`),
  ...dirs('functions/connectors').map((name) => `functions/connectors/${name}`),
];
const boundaryZones = [
  ...lambdaFolders.map((folder) => ({
    target: `./${folder}`,
    from: './functions',
    except: [`./${folder.slice('functions/'.length)}`, './lib'],
    message: 'A Lambda folder imports only itself and functions/lib/: move what it shares into a lib module.',
  })),
  {
    target: './functions/lib',
    from: './functions',
    except: ['./lib'],
    message: 'functions/lib/ holds what Lambdas share; it never imports a Lambda folder.',
  },
];

export default tseslint.config(
  // wasm/ is AssemblyScript (its types, i32 and load<u8>, are not TypeScript's): its compiler checks it.
  { ignores: ['node_modules/', 'cdk.out/', '.local/', 'test-results/', 'coverage/', '.bench/', 'wasm/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    files: ['functions/**/*.ts', 'config/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.json'] })],
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: boundaryZones }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
