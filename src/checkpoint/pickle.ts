// A restricted unpickler for PyTorch state_dict pickles (protocols 2–5). It is hand-written because no
// safe, maintained npm unpickler exists: the available packages either execute or instantiate arbitrary
// globals, or are unmaintained and miss protocol 4/5 opcodes. This one is a plain stack machine over the
// opcodes state_dicts use (pickletools' opcode table is the reference); it never evaluates code. Globals
// (GLOBAL/STACK_GLOBAL) are resolved only through the hooks' allowlist and refused otherwise, REDUCE/
// NEWOBJ/BUILD/persistent ids are delegated to the hooks, which only know allowlisted constructors.
// Work is linear in the input: every opcode consumes at least one byte, lengths are checked against the
// remaining input before allocation, big integers are capped, and containers are shared by reference.

import * as E from 'fp-ts/lib/Either.js'
import type { CheckpointError } from './errors.js'
import type { PyDict, PyList, PyValue } from './py-values.js'
import { isPyKey, newDict, pyTypeOf, tuple } from './py-values.js'
import { workMeter } from './work.js'

/** What a hook returns: a value, a message (reported at the current opcode), or a checkpoint error. */
export type HookResult = E.Either<CheckpointError | string, PyValue>

/** The unpickler's only ways to create non-primitive objects. */
export interface PickleHooks {
  readonly findGlobal: (module: string, name: string) => HookResult
  readonly reduce: (callable: PyValue, args: PyValue) => HookResult
  readonly newobj: (cls: PyValue, args: PyValue) => HookResult
  readonly build: (obj: PyValue, state: PyValue) => HookResult
  readonly persistentLoad: (pid: PyValue) => HookResult
}

/** Bounds on hostile input. */
export interface PickleLimits {
  /** Largest LONG1/LONG4 integer, in bytes. */
  readonly maxLongBytes: number
  /** Largest memo. */
  readonly maxMemo: number
}

/** Default bounds: ints up to 64 bytes (state dicts use ≤ 8), memo up to 10^7 entries. */
export const DEFAULT_PICKLE_LIMITS: PickleLimits = { maxLongBytes: 64, maxMemo: 10_000_000 }

class Fault {
  constructor(readonly error: CheckpointError) {}
}

const MARK: unique symbol = Symbol('mark')
type Item = PyValue | typeof MARK
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Unpickles one pickle starting at `start`; returns the value and the offset after STOP. */
export const unpickle = (
  bytes: Uint8Array,
  start: number,
  hooks: PickleHooks,
  limits: PickleLimits = DEFAULT_PICKLE_LIMITS,
): E.Either<CheckpointError, { readonly value: PyValue; readonly end: number }> => {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = start
  let opPos = start
  let opName = 'start'
  const stack: Item[] = []
  const marks: number[] = []
  const memo = new Map<number, PyValue>()

  const fail = (message: string): never => {
    throw new Fault({ _tag: 'BadPickle', offset: opPos, opcode: opName, message })
  }
  const need = (n: number): number => {
    if (n < 0) return fail(`negative length ${n}`)
    if (n > bytes.length - pos) throw new Fault({ _tag: 'Truncated', what: `pickle ${opName} at byte ${opPos}`, need: n, have: bytes.length - pos })
    const p = pos
    pos += n
    return p
  }
  const u8 = (): number => bytes[need(1)] as number
  const u16 = (): number => dv.getUint16(need(2), true)
  const u32 = (): number => dv.getUint32(need(4), true)
  const u64 = (): number => {
    const v = dv.getBigUint64(need(8), true)
    return v > BigInt(bytes.length) ? Number.MAX_SAFE_INTEGER : Number(v)
  }
  const raw = (n: number): Uint8Array => bytes.subarray(need(n), pos)
  const text = (n: number): string => {
    const b = raw(n)
    try {
      return utf8.decode(b)
    } catch {
      return fail('string is not valid UTF-8')
    }
  }
  const line = (): string => {
    const nl = bytes.subarray(pos, pos + 1025).indexOf(0x0a)
    const end = nl < 0 ? -1 : pos + nl
    if (end < 0) return fail('GLOBAL name line unterminated or longer than 1024 bytes')
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end))
    pos = end + 1
    return s
  }
  const floor = (): number => marks[marks.length - 1] ?? 0
  const pop = (): PyValue => {
    if (stack.length <= floor()) return fail('stack underflow')
    return stack.pop() as PyValue
  }
  const top = (): PyValue => {
    if (stack.length <= floor()) return fail('stack underflow')
    return stack[stack.length - 1] as PyValue
  }
  const popMark = (): PyValue[] => {
    const m = marks.pop()
    if (m === undefined) return fail('no MARK on the stack')
    return stack.splice(m) as PyValue[]
  }
  const put = (i: number): void => {
    if (memo.size >= limits.maxMemo && !memo.has(i)) throw new Fault({ _tag: 'LimitExceeded', what: 'pickle memo entries', limit: limits.maxMemo })
    memo.set(i, top())
  }
  const get = (i: number): void => {
    const v = memo.get(i)
    if (v === undefined) return fail(`memo key ${i} is not defined`)
    stack.push(v)
  }
  const hook = (r: HookResult): void => {
    if (E.isLeft(r)) {
      if (typeof r.left === 'string') fail(r.left)
      else throw new Fault(r.left)
    } else stack.push(r.right)
  }
  const long = (n: number): void => {
    if (n > limits.maxLongBytes) throw new Fault({ _tag: 'LimitExceeded', what: 'pickle integer bytes', limit: limits.maxLongBytes })
    const b = raw(n)
    let v = 0n
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i] as number)
    if (n > 0 && ((b[n - 1] as number) & 0x80) !== 0) v -= 1n << BigInt(8 * n)
    stack.push(v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v)
  }
  const list = (v: PyValue): PyList => (v !== null && typeof v === 'object' && v._py === 'list' ? v : fail(`cannot append to ${pyTypeOf(v)}`))
  const dict = (v: PyValue): PyDict => (v !== null && typeof v === 'object' && v._py === 'dict' ? v : fail(`cannot set items of ${pyTypeOf(v)}`))
  const setItems = (d: PyDict, kv: ReadonlyArray<PyValue>): void => {
    if (kv.length % 2 !== 0) fail('odd number of items for a dict')
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i] as PyValue
      if (!isPyKey(k)) return fail(`unsupported dict key of type ${pyTypeOf(k)}`)
      d.map.set(k, kv[i + 1] as PyValue)
    }
  }

  try {
    for (;;) {
      opPos = pos
      workMeter.steps++
      const op = u8()
      opName = `opcode 0x${op.toString(16).padStart(2, '0')}`
      switch (op) {
        case 0x80: if (u8() > 5) fail('pickle protocol above 5'); break // PROTO
        case 0x95: u64(); break // FRAME (framing is only a read-ahead hint)
        case 0x2e: return E.right({ value: pop(), end: pos }) // STOP
        case 0x28: marks.push(stack.length); break // MARK
        case 0x30: pop(); break // POP
        case 0x31: popMark(); break // POP_MARK
        case 0x32: stack.push(top()); break // DUP
        case 0x4e: stack.push(null); break // NONE
        case 0x88: stack.push(true); break // NEWTRUE
        case 0x89: stack.push(false); break // NEWFALSE
        case 0x4a: stack.push(dv.getInt32(need(4), true)); break // BININT
        case 0x4b: stack.push(u8()); break // BININT1
        case 0x4d: stack.push(u16()); break // BININT2
        case 0x8a: long(u8()); break // LONG1
        case 0x8b: long(u32()); break // LONG4
        case 0x47: stack.push(dv.getFloat64(need(8), false)); break // BINFLOAT (big-endian)
        case 0x58: stack.push(text(u32())); break // BINUNICODE
        case 0x8c: stack.push(text(u8())); break // SHORT_BINUNICODE
        case 0x8d: stack.push(text(u64())); break // BINUNICODE8
        case 0x54: stack.push(text(dv.getInt32(need(4), true))); break // BINSTRING (py2 str, read as UTF-8)
        case 0x55: stack.push(text(u8())); break // SHORT_BINSTRING
        case 0x42: stack.push({ _py: 'bytes', data: raw(u32()).slice() }); break // BINBYTES
        case 0x43: stack.push({ _py: 'bytes', data: raw(u8()).slice() }); break // SHORT_BINBYTES
        case 0x8e: case 0x96: stack.push({ _py: 'bytes', data: raw(u64()).slice() }); break // BINBYTES8, BYTEARRAY8
        case 0x29: stack.push(tuple([])); break // EMPTY_TUPLE
        case 0x85: stack.push(tuple([pop()])); break // TUPLE1
        case 0x86: { const b = pop(); stack.push(tuple([pop(), b])); break } // TUPLE2
        case 0x87: { const c = pop(); const b = pop(); stack.push(tuple([pop(), b, c])); break } // TUPLE3
        case 0x74: stack.push(tuple(popMark())); break // TUPLE
        case 0x5d: stack.push({ _py: 'list', items: [] }); break // EMPTY_LIST
        case 0x6c: stack.push({ _py: 'list', items: popMark() }); break // LIST
        case 0x61: { const v = pop(); list(top()).items.push(v); break } // APPEND
        case 0x65: { const vs = popMark(); const l = list(top()); for (const v of vs) l.items.push(v); break } // APPENDS
        case 0x7d: stack.push(newDict(false)); break // EMPTY_DICT
        case 0x64: { const d = newDict(false); setItems(d, popMark()); stack.push(d); break } // DICT
        case 0x73: { const v = pop(); const k = pop(); setItems(dict(top()), [k, v]); break } // SETITEM
        case 0x75: { const kv = popMark(); setItems(dict(top()), kv); break } // SETITEMS
        case 0x71: put(u8()); break // BINPUT
        case 0x72: put(u32()); break // LONG_BINPUT
        case 0x94: put(memo.size); break // MEMOIZE
        case 0x68: get(u8()); break // BINGET
        case 0x6a: get(u32()); break // LONG_BINGET
        case 0x63: { const m = line(); hook(hooks.findGlobal(m, line())); break } // GLOBAL
        case 0x93: { // STACK_GLOBAL
          const n = pop()
          const m = pop()
          if (typeof m !== 'string' || typeof n !== 'string') fail('STACK_GLOBAL needs two strings')
          hook(hooks.findGlobal(m as string, n as string))
          break
        }
        case 0x52: { const args = pop(); hook(hooks.reduce(pop(), args)); break } // REDUCE
        case 0x81: { const args = pop(); hook(hooks.newobj(pop(), args)); break } // NEWOBJ
        case 0x62: { const state = pop(); hook(hooks.build(pop(), state)); break } // BUILD
        case 0x51: hook(hooks.persistentLoad(pop())); break // BINPERSID
        default: fail('opcode not supported by the restricted unpickler')
      }
    }
  } catch (e) {
    if (e instanceof Fault) return E.left(e.error)
    if (e instanceof RangeError) return E.left({ _tag: 'LimitExceeded', what: `pickle ${opName} at byte ${opPos}: ${e.message}`, limit: bytes.length })
    throw e
  }
}
