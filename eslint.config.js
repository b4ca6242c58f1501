// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.pulumi-state/', 'coverage/', 'engine/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', exports: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly', setImmediate: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // What a preview loads: the package's index also loads the Automation API and the TypeScript
    // compiler (0.65 s of every preview, docs/performance.md); import Pulumi's modules one by one.
    files: ['index.ts', 'program/**/*.ts', 'provider/**/*.ts', 'shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { paths: [{ name: '@pulumi/pulumi', allowTypeImports: true, message: "import the module you need ('@pulumi/pulumi/output', '/resource', '/log', …): the index loads the Automation API and TypeScript" }] },
      ],
    },
  },
);
