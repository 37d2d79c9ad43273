// ESLint (flat config) with typescript-eslint's recommended rules, over the whole repository
// (src/, test/, bench/ and these config files). No type-aware rules: they would need the type
// checker per file and make `npm test` slower, and `tsc --noEmit` already runs there. The import
// order of the layers is checked by dependency-cruiser (.dependency-cruiser.cjs), not here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const TEST_FUNCTIONS = 'test|it|describe|suite';
const noFocusOrSkip = 'tests on main are neither focused (only) nor skipped (skip, todo)';

export default tseslint.config(
  // web/dist/ is the page's bundle (npm run build:web); its source, web/src/, is linted.
  { ignores: ['dist/', 'web/dist/', 'node_modules/', 'models/', 'openapi/', '.bench/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Unused bindings are errors, except a leading underscore that says "deliberately unused".
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // node:test offers three ways to focus or skip a test: test.only(...), an options object
    // test('name', { skip: true }, fn), and t.skip() / t.todo() inside a test.
    files: ['test/**/*.ts'],
    rules: {
      // Tests edit raw manifests and JSON responses into deliberately invalid shapes: `any` is
      // the honest type there. Production code keeps the rule.
      '@typescript-eslint/no-explicit-any': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: `CallExpression > MemberExpression.callee[object.name=/^(${TEST_FUNCTIONS})$/][property.name='only']`, message: noFocusOrSkip },
        { selector: `CallExpression[callee.name=/^(${TEST_FUNCTIONS})$/] > ObjectExpression > Property[key.name='only']`, message: noFocusOrSkip },
        // { skip: true } or { skip: 'reason' } always skips; a computed condition is a platform
        // guard (test/system/memory.test.ts needs Linux's /proc) and is allowed.
        { selector: `CallExpression[callee.name=/^(${TEST_FUNCTIONS})$/] > ObjectExpression > Property[key.name=/^(skip|todo)$/][value.type='Literal']`, message: noFocusOrSkip },
        // test.skip(...), describe.todo(...), t.skip(): any .skip() or .todo() call in a test file.
        { selector: 'CallExpression > MemberExpression.callee[property.name=/^(skip|todo)$/]', message: noFocusOrSkip },
      ],
    },
  },
  {
    // The plain JavaScript here is configuration run by Node (ESM .js, CommonJS .cjs).
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly', __dirname: 'readonly' } },
  },
);
