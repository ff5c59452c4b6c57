// eslint's flat config (tests/run runs `npx eslint`, versions pinned in package-lock.json): the
// site's browser code under site_src/static/js is ES modules; the vendored libraries (vendor/)
// are their authors' to lint.
import js from '@eslint/js';
import globals from 'globals';

const SITE = 'site_src/static/js';
// the globals the classic scripts talked through before they were modules
const OLD_GLOBALS = ['Mangarec', 'MangarecTaste', 'MangarecSearch'];

export default [
  {ignores: [`${SITE}/vendor/**`, 'output/**', '.venv/**', 'node_modules/**']},
  js.configs.recommended,
  {
    files: [`${SITE}/**/*.js`, 'tests/**/*.mjs', 'benchmarks/**/*.mjs', 'eslint.config.js'],
    languageOptions: {ecmaVersion: 2022, sourceType: 'module', globals: {...globals.browser}},
    rules: {
      'no-unused-vars': ['error', {caughtErrors: 'none'}],
      eqeqeq: ['error', 'always'],
      'prefer-const': 'error',
    },
  },
  {
    // the pages' modules share state by import, never through globals (a vendored classic
    // script such as plotly.js may still define its own, which a module reads)
    files: [`${SITE}/**/*.js`],
    rules: {
      'no-restricted-globals': ['error', ...OLD_GLOBALS],
      'no-restricted-properties': ['error', ...['globalThis', 'window', 'self'].flatMap((object) =>
        OLD_GLOBALS.map((property) => ({object, property, message: 'import the module instead'})))],
    },
  },
  {
    files: [`${SITE}/**/*.js`],
    ignores: [`${SITE}/privacy/worker.js`],  // sets the worker's onmessage, its one entry point
    rules: {
      'no-restricted-syntax': ['error', {
        selector: 'AssignmentExpression > MemberExpression.left[object.name=/^(window|globalThis|self)$/]',
        message: 'no globals between modules: export it instead',
      }],
    },
  },
  {
    files: [`${SITE}/*.js`],
    rules: {'no-shadow': 'error'},  // an import hidden by a local of the same name
  },
  {files: [`${SITE}/privacy/worker.js`], languageOptions: {globals: {...globals.worker}}},
  {files: ['tests/**/*.mjs', 'benchmarks/**/*.mjs', 'eslint.config.js'], languageOptions: {globals: {...globals.node}}},
];
