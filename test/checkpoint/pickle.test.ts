// The restricted unpickler: hostile globals are refused by name before anything runs (the payloads would
// create a marker file if executed), opcode semantics on handcrafted pickles (checked against Python's
// pickletools by hand), and the bounds that keep hostile input linear.

import { existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import * as E from 'fp-ts/lib/Either.js'
import { describe, expect, it } from 'vitest'
import { formatCheckpointError } from '../../src/checkpoint/errors.js'
import { unpickle } from '../../src/checkpoint/pickle.js'
import type { PyValue } from '../../src/checkpoint/py-values.js'
import { readCheckpoint } from '../../src/checkpoint/read.js'
import { ALLOWED_GLOBALS, newTorchContext, torchHooks } from '../../src/checkpoint/torch-globals.js'
import { toPyData, unwrapStateDict } from '../../src/checkpoint/unwrap.js'
import { P, bytesOf, fcSeed, torchZip } from './pickle-bytes.js'

const hooks = () => torchHooks(newTorchContext(1 << 20))
const run = (b: Uint8Array) => unpickle(b, 0, hooks())
const value = (b: Uint8Array): PyValue => {
  const r = run(b)
  if (E.isLeft(r)) throw new Error(formatCheckpointError(r.left))
  return r.right.value
}

describe('hostile globals', () => {
  const marker = join(tmpdir(), `sparkts-pwned-${process.pid}`)
  const cmd = `touch ${marker}`

  const cases: ReadonlyArray<readonly [string, string, Uint8Array]> = [
    ['os', 'system', bytesOf(P.proto(2), P.global('os', 'system'), P.str(cmd), P.tuple1, P.reduce, P.stop)],
    ['posix', 'system', bytesOf(P.proto(2), P.global('posix', 'system'), P.str(cmd), P.tuple1, P.reduce, P.stop)],
    ['builtins', 'eval', bytesOf(P.proto(4), P.str('builtins'), P.str('eval'), P.stackGlobal, P.str(`__import__('os').system('${cmd}')`), P.tuple1, P.reduce, P.stop)],
    ['subprocess', 'Popen', bytesOf(P.proto(4), P.str('subprocess'), P.str('Popen'), P.stackGlobal, P.mark, P.str('touch'), P.str(marker), P.tuple, P.tuple1, P.reduce, P.stop)],
    ['builtins', 'getattr', bytesOf(P.proto(2), P.global('builtins', 'getattr'), P.stop)],
    ['torch', 'load', bytesOf(P.proto(2), P.global('torch', 'load'), P.stop)],
  ]

  for (const [module, name, bytes] of cases) {
    it(`refuses ${module}.${name} with a message naming it, executing nothing`, () => {
      rmSync(marker, { force: true })
      const r = run(bytes)
      expect(E.isLeft(r) && r.left).toEqual({ _tag: 'ForbiddenGlobal', module, name })
      expect(E.isLeft(r) && formatCheckpointError(r.left)).toContain(`${module}.${name}`)
      const inZip = readCheckpoint(torchZip(bytes, {}))
      expect(E.isLeft(inZip) && inZip.left).toEqual({ _tag: 'ForbiddenGlobal', module, name })
      expect(existsSync(marker)).toBe(false)
    })
  }

  it('refuses every global outside the allowlist (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_][a-z0-9_.]{0,20}$/), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/), (m, n) => {
        const r = run(bytesOf(P.proto(4), P.str(m), P.str(n), P.stackGlobal, P.stop))
        return ALLOWED_GLOBALS.has(`${m}.${n}`) ? E.isRight(r) : E.isLeft(r) && r.left._tag === 'ForbiddenGlobal' && r.left.module === m && r.left.name === n
      }),
      { numRuns: 200, ...fcSeed() },
    )
  })

  it('an allowlisted storage class is not callable and OrderedDict takes no arguments', () => {
    const r1 = run(bytesOf(P.proto(2), P.global('torch', 'FloatStorage'), P.emptyTuple, P.reduce, P.stop))
    expect(E.isLeft(r1) && formatCheckpointError(r1.left)).toMatch(/torch.FloatStorage is not callable/)
    const r2 = run(bytesOf(P.proto(2), P.global('collections', 'OrderedDict'), P.str('x'), P.tuple1, P.reduce, P.stop))
    expect(E.isLeft(r2) && r2.left._tag).toBe('BadPickle')
  })
})

describe('opcodes', () => {
  it('builds nested containers with memo, marks, ints, floats, strings and bytes', () => {
    const v = value(bytesOf(
      P.proto(4), P.frame(0), P.emptyDict, P.memoize, P.mark,
      P.str('ints'), P.mark, P.int(7), P.int(300), P.int(-5), P.int(70000), P.long1(-2n, 1), P.long1(2n ** 70n, 9), P.tuple,
      P.str('f'), P.float(-1.25),
      P.str8('l'), P.emptyList, P.put(1), P.mark, P.t, P.f, P.none, P.appends, P.int(9), P.append,
      P.binunicode('again'), P.get(1),
      P.str('t3'), P.str('a'), P.str('b'), P.bytes([1, 2]), P.tuple3,
      P.str('d'), P.mark, P.str('k'), P.int(1), P.dict,
      P.setitems, P.stop,
    ))
    const d = toPyData(v)
    expect(E.isRight(d) && d.right).toEqual(new Map<string, unknown>([
      ['ints', [7, 300, -5, 70000, -2, 2n ** 70n]],
      ['f', -1.25],
      ['l', [true, false, null, 9]],
      ['again', [true, false, null, 9]],
      ['t3', ['a', 'b', Uint8Array.from([1, 2])]],
      ['d', new Map([['k', 1]])],
    ]))
    // the memoised list is shared by reference, as in Python
    const m = v !== null && typeof v === 'object' && v._py === 'dict' ? v.map : undefined
    expect(m?.get('l')).toBe(m?.get('again'))
  })

  it('reports bad programs with the byte offset', () => {
    const r1 = run(bytesOf(P.proto(2), P.get(3), P.stop))
    expect(E.isLeft(r1) && r1.left).toMatchObject({ _tag: 'BadPickle', offset: 2, message: 'memo key 3 is not defined' })
    const r2 = run(bytesOf(P.proto(2), P.append, P.stop))
    expect(E.isLeft(r2) && r2.left).toMatchObject({ _tag: 'BadPickle', message: 'stack underflow' })
    const r3 = run(bytesOf(P.proto(2), [0x69], P.stop))
    expect(E.isLeft(r3) && formatCheckpointError(r3.left)).toMatch(/opcode 0x69.*not supported/)
    const r4 = run(bytesOf(P.proto(2), P.int(1), P.emptyList, P.setitem, P.stop))
    expect(E.isLeft(r4) && r4.left._tag).toBe('BadPickle')
  })
})

describe('bounds on hostile input', () => {
  it('a string length beyond the input is Truncated, not allocated', () => {
    const r = run(Uint8Array.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x41]))
    expect(E.isLeft(r) && r.left).toMatchObject({ _tag: 'Truncated', need: 0xffffffff })
    const r8 = run(Uint8Array.from([0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]))
    expect(E.isLeft(r8) && r8.left._tag).toBe('Truncated')
  })

  it('a huge LONG4 integer is refused', () => {
    const body = new Uint8Array(100_000).fill(0x11)
    const r = run(bytesOf(P.proto(2), [0x8b, 0xa0, 0x86, 0x01, 0x00], body, P.stop))
    expect(E.isLeft(r) && r.left).toMatchObject({ _tag: 'LimitExceeded', what: 'pickle integer bytes' })
  })

  it('doubly shared nesting (2^60 paths) converts in linear time; a cycle is rejected', () => {
    const parts = [P.proto(2), P.emptyList, P.put(0)]
    for (let i = 1; i <= 60; i++) parts.push(P.get(i - 1), P.get(i - 1), P.tuple2, P.put(i), P.pop)
    parts.push(P.get(60), P.stop)
    const d = toPyData(value(bytesOf(...parts)))
    expect(E.isRight(d)).toBe(true)
    const cyc = value(bytesOf(P.proto(2), P.emptyList, P.put(0), P.get(0), P.append, P.stop))
    const c = toPyData(cyc)
    expect(E.isLeft(c) && c.left._tag).toBe('NotAStateDict')
  })

  it('deep nesting in a side entry hits the depth limit instead of the JS stack', () => {
    const parts = [P.proto(2)]
    for (let i = 0; i < 5000; i++) parts.push(P.emptyList)
    for (let i = 0; i < 4999; i++) parts.push(P.append)
    parts.push(P.stop)
    const deep = value(bytesOf(...parts))
    const d = toPyData(deep)
    expect(E.isLeft(d) && d.left).toMatchObject({ _tag: 'LimitExceeded', what: 'nesting depth of a side entry' })
    const top = { _py: 'dict', ordered: true, map: new Map<string, PyValue>([['meta', deep]]), attrs: undefined } as const
    expect(E.isLeft(unwrapStateDict(top))).toBe(true)
  })
})
