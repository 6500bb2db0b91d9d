// Lint rules for every package, src and test alike. A small set on purpose:
// typescript-eslint's recommended rules plus the type-aware checks that catch
// real daemon bugs (a promise nobody awaits can drop a listener or a
// rejection; a promise used as a condition is always true).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      'artifacts/**',
      'coverage/**',
      '.tap/**',
    ],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: [
      'packages/*/src/**/*.ts',
      'packages/*/test/**/*.ts',
      'test/**/*.ts',
    ],
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // TypeScript itself reports undefined names, with types.
      'no-undef': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap queues subtests itself; awaiting t.test() is optional.
          allowForKnownSafePromises: [
            {
              from: 'package',
              package: '@tapjs/core',
              name: 'PromiseWithSubtest',
            },
          ],
        },
      ],
      // A teardown closure may read a variable assigned once, later.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrors: 'none',
        },
      ],
    },
  },
  {
    files: [
      'bench/**/*.js',
      'examples/**/*.js',
      'examples/**/*.mjs',
      'bench/**/*.mjs',
      'eslint.config.js',
      'packages/*/libexec/**/*.js',
      '**/*.mjs',
      'packages/*/native/**/*.js',
      'test/**/*.js',
    ],
    languageOptions: { globals: globals.node },
    // Bench and example scripts clean up best-effort: `catch {}` is the point.
    rules: { 'no-empty': ['error', { allowEmptyCatch: true }] },
  },
)
