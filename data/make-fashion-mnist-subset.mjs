// Regenerates the built-in dataset (data/fashion-mnist-subset/*.gz) from the full Fashion-MNIST IDX files
// (Debian package dataset-fashion-mnist: /usr/share/datasets/fashion-mnist). Deterministic: the first
// TRAIN_PER_CLASS images of each class in the original train file order, the first TEST_PER_CLASS of each
// class in the original t10k order, kept in file order; written as gzipped IDX (zlib gzip, mtime 0).
// Usage: node data/make-fashion-mnist-subset.mjs [sourceDir]
import { gunzipSync, gzipSync } from 'node:zlib'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const TRAIN_PER_CLASS = Number(process.env.TRAIN_PER_CLASS ?? 800)
const TEST_PER_CLASS = Number(process.env.TEST_PER_CLASS ?? 200)
const src = process.argv[2] ?? '/usr/share/datasets/fashion-mnist'
const out = new URL('./fashion-mnist-subset/', import.meta.url)
mkdirSync(out, { recursive: true })

const readIdx = (file) => {
  const b = gunzipSync(readFileSync(join(src, file)))
  const dims = b[3]
  const shape = Array.from({ length: dims }, (_, i) => b.readUInt32BE(4 + 4 * i))
  return { magic: b.readUInt32BE(0), shape, data: b.subarray(4 + 4 * dims) }
}

const idx = (magic, shape, data) => {
  const h = Buffer.alloc(4 + 4 * shape.length)
  h.writeUInt32BE(magic, 0)
  shape.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i))
  return gzipSync(Buffer.concat([h, data]), { level: 9 })
}

const subset = (prefix, perClass, outPrefix) => {
  const im = readIdx(`${prefix}-images-idx3-ubyte.gz`)
  const lb = readIdx(`${prefix}-labels-idx1-ubyte.gz`)
  const px = im.shape[1] * im.shape[2]
  const count = new Array(10).fill(0)
  const keep = []
  for (let i = 0; i < lb.shape[0]; i++) {
    const c = lb.data[i]
    if (count[c] < perClass) { count[c]++; keep.push(i) }
  }
  const imgs = Buffer.alloc(keep.length * px)
  const labels = Buffer.alloc(keep.length)
  keep.forEach((i, k) => { im.data.copy(imgs, k * px, i * px, (i + 1) * px); labels[k] = lb.data[i] })
  writeFileSync(new URL(`${outPrefix}-images-idx3-ubyte.gz`, out), idx(im.magic, [keep.length, im.shape[1], im.shape[2]], imgs))
  writeFileSync(new URL(`${outPrefix}-labels-idx1-ubyte.gz`, out), idx(lb.magic, [keep.length], labels))
  console.log(`${outPrefix}: ${keep.length} images (${perClass}/class), last source index ${keep.at(-1)}`)
}

subset('train', TRAIN_PER_CLASS, 'train')
subset('t10k', TEST_PER_CLASS, 'test')
