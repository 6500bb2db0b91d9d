// The held-file sysfs reader, against a directory shaped like
// /sys/class/net (the real one is read by the namespace tests).
import t from 'tap'
import { join } from 'node:path'
import { mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { SysfsReader } from '../src/sysfs.js'

t.test(
  're-reads a held file; missing interface; forget reopens by name',
  async t => {
    const root = t.testdir({ eth0: { carrier: '1\n', operstate: 'up\n' } })
    const r = new SysfsReader(root)
    t.equal(r.read('eth0', 'carrier'), '1')
    writeFileSync(join(root, 'eth0', 'carrier'), '0\n') // same file, new value
    t.equal(r.read('eth0', 'carrier'), '0', 'each read starts at offset 0')
    t.equal(r.read('eth9', 'carrier'), undefined, 'no such interface')
    // A rename keeps the held file: the reader follows it until forget().
    renameSync(join(root, 'eth0'), join(root, 'eth5'))
    mkdirSync(join(root, 'eth0'))
    writeFileSync(join(root, 'eth0', 'carrier'), '1\n')
    t.equal(r.read('eth0', 'carrier'), '0')
    r.forget()
    t.equal(r.read('eth0', 'carrier'), '1', 'reopened by name')
    r.forget()
  },
)
