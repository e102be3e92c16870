// ESLint (flat config): TypeScript's recommended rules, and the layers of docs/design.md as import rules, so a
// boundary crossed fails `npm run lint` (part of `npm test`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const only = (what, where) => `${what} is imported only under ${where} (docs/design.md, "Layers")`;
// Packages by name (regexes: a gitignore-style group 'openpgp/*' would also match '../openpgp/index.js').
const OPENPGP = { regex: '^openpgp(/|$)', message: only('openpgp', 'src/openpgp') };
// In src/openpgp, openpgp.js's values come from library.ts (its minified build, loaded once); types from anywhere.
const OPENPGP_VALUES = { ...OPENPGP, allowTypeImports: true, message: 'src/openpgp takes openpgp.js from ./library.js (its one copy)' };
const STORE = { regex: '^(kysely|kysely-pglite-dialect|pg)(/|$)|^@electric-sql/', message: only('kysely, pg and PGlite', 'src/store') };
const KOA = { regex: '^koa(/|$)|^@koa/', message: only('Koa', 'src/http') };
// Relative imports of src/http from a folder beside it, and of src/server.ts from anywhere in src.
const HTTP = { regex: '^\\.\\./(\\.\\./)*http/', message: 'src/services, src/store and src/openpgp never import src/http (the layers point down)' };
const SERVER = {
  regex: '^\\.{1,2}/(\\.\\./)*server\\.js$',
  message: 'only src/cli and src/main.ts import src/server.ts (it loads the whole HTTP stack)',
};

/** no-restricted-imports for the files of one folder: every pattern given. */
const restrict = (files, patterns, ignores = []) => ({
  files,
  ignores,
  rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/cache/**', 'bench/results/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      // OpenPGP and HKP text rules name control characters on purpose (user IDs, listings, searches).
      'no-control-regex': 'off',
    },
  },
  // Tests poke at JSON answers of any shape.
  { files: ['test/**'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  // The layers (each folder gets one entry: flat config replaces, not merges, a rule's options).
  restrict(['src/openpgp/**'], [OPENPGP_VALUES, STORE, KOA, HTTP, SERVER], ['src/openpgp/library.ts']),
  restrict(['src/openpgp/library.ts'], [STORE, KOA, HTTP, SERVER]),
  restrict(['src/store/**'], [OPENPGP, KOA, HTTP, SERVER]),
  restrict(['src/services/**'], [OPENPGP, STORE, KOA, HTTP, SERVER]),
  restrict(['src/http/**'], [OPENPGP, STORE, SERVER]),
  restrict(['src/formats/**'], [OPENPGP, STORE, KOA, HTTP, SERVER]),
  restrict(['src/cli/**', 'src/main.ts'], [OPENPGP, STORE, KOA]),
  restrict(['src/*.ts'], [OPENPGP, STORE, KOA, SERVER], ['src/main.ts']),
);
