// ESLint flat config: neostandard (the standard style, for TypeScript), typescript-eslint's
// type-aware rules that catch real bugs (floating promises, misused promises, needless
// assertions), and the import order the code follows: node built-ins, packages, our own modules,
// then type-only imports.
import importX from 'eslint-plugin-import-x'
import neostandard from 'neostandard'
import tseslint from 'typescript-eslint'

export default [
  { ignores: ['dist/**', 'node_modules/**', 'src/protocols/pb/**', 'coverage/**'] },
  ...neostandard({ ts: true, noJsx: true }),
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname }
    },
    plugins: { '@typescript-eslint': tseslint.plugin, 'import-x': importX },
    rules: {
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/prefer-optional-chain': 'error',
      '@typescript-eslint/prefer-nullish-coalescing': 'error',
      '@typescript-eslint/strict-boolean-expressions': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true, allowTypedFunctionExpressions: true, allowHigherOrderFunctions: true }],
      // `import('pkg')` types are how code names the types of a package it loads only on demand
      '@typescript-eslint/consistent-type-imports': ['error', { disallowTypeAnnotations: false }],
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' }],
      'import-x/order': ['error', {
        groups: ['builtin', 'external', 'internal', 'parent', 'sibling', 'index', 'object', 'type'],
        'newlines-between': 'never',
        alphabetize: { order: 'asc', caseInsensitive: true }
      }],
      'import-x/first': 'error',
      // a loop's condition is often changed by a callback of the loop (a walk's answers), which
      // this rule cannot see: tsc and the tests cover what it would catch
      'no-unmodified-loop-condition': 'off',
      // `void promise` marks a promise deliberately not awaited (its errors are handled inside)
      'no-void': ['error', { allowAsStatement: true }],
      'import-x/no-duplicates': 'error'
    }
  },
  {
    // a test asserts on values of any shape (`assert.ok(found)`): the rule is for the library's logic
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/strict-boolean-expressions': 'off' }
  }
]
