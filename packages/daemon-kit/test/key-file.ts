// Issue 19.8: one key-file rule for every daemon (mode, minimum, text rule).
import t from 'tap'
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  readKeyFile,
  keyText,
  keyFileModeProblem,
  KEY_MIN_BYTES,
  KeyFileError,
} from '../src/key-file.js'

t.test('mode: group or other access refused, naming file and mode', async t => {
  const dir = t.testdir({})
  const p = join(dir, 'k')
  writeFileSync(p, 'a-sixteen-byte-key\n')
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
    chmodSync(p, mode)
    await t.rejects(
      readKeyFile(p),
      {
        code: 'KIT_ERR_KEY_FILE',
        exitCode: 3,
        message: `key file ${p}: readable by group or others (mode ${mode.toString(8)}); chmod 600 it`,
      },
      mode.toString(8),
    )
  }
  chmodSync(p, 0o600)
  t.equal(await readKeyFile(p), 'a-sixteen-byte-key')
  chmodSync(p, 0o400)
  t.equal(await readKeyFile(p), 'a-sixteen-byte-key', '0400 is fine')
  t.equal(keyFileModeProblem(0o100600), undefined)
})

t.test(
  'minimum 16 bytes after the text rule; errors are KeyFileError',
  async t => {
    t.equal(KEY_MIN_BYTES, 16)
    const dir = t.testdir({})
    const w = (name: string, content: string): string => {
      const p = join(dir, name)
      writeFileSync(p, content, { mode: 0o600 })
      return p
    }
    const err = await readKeyFile(w('short', '  fifteen-bytes!\n\n')).catch(
      (e: unknown) => e,
    )
    t.ok(err instanceof KeyFileError)
    t.match(err, {
      reason: 'holds fewer than 16 bytes of key (at least 16 bytes required)',
    })
    t.equal(
      await readKeyFile(w('sixteen', 'sixteen-bytes-ok\n')),
      'sixteen-bytes-ok',
    )
    t.equal(
      await readKeyFile(w('utf8', 'ééééééééé\n')),
      'ééééééééé',
      '9 characters, 18 bytes: bytes count',
    )
    t.equal(
      await readKeyFile(w('lines', ' first-line-is-the-key \nsecond\n'), {
        text: 'first-line',
      }),
      'first-line-is-the-key',
    )
    t.equal(
      await readKeyFile(w('exact', ' exact-key-with-spaces \n'), {
        text: 'exact',
      }),
      ' exact-key-with-spaces \n',
    )
    t.equal(await readKeyFile(w('none', 'x'), { minBytes: 0 }), 'x')
    await t.rejects(readKeyFile(join(dir, 'missing')), {
      code: 'KIT_ERR_KEY_FILE',
      message: /missing: cannot be read: ENOENT/,
    })
    mkdirSync(join(dir, 'adir'), { mode: 0o700 })
    await t.rejects(readKeyFile(join(dir, 'adir')), {
      message: /not a regular file/,
    })
    const big = w('big', 'k'.repeat(70_000))
    await t.rejects(readKeyFile(big), { message: /larger than 65536 bytes/ })
    // A link is followed (packaged secrets often are links); the mode checked
    // is the target's, read through the opened file.
    symlinkSync(join(dir, 'sixteen'), join(dir, 'link'))
    t.equal(await readKeyFile(join(dir, 'link')), 'sixteen-bytes-ok')
  },
)

t.test('keyText rules (pure)', async t => {
  t.equal(keyText('\t key \r\n'), 'key')
  t.equal(keyText('a b\nc', 'first-line'), 'a b')
  t.equal(keyText('a\r\nb', 'first-line'), 'a')
  t.equal(keyText(' a\n', 'exact'), ' a\n')
})
