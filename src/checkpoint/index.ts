// Public surface of the checkpoint I/O layer: format-sniffing reader, safetensors writer, unwrapping,
// and the data types. Node file reading lives in read-file.ts.

export type { Checkpoint, CheckpointFormat, DType, PyData, TensorData, TensorOf, ArrayOf } from './types.js'
export { DTYPES, DTYPE_SIZE, isTensorData, numelOf, toFloat32 } from './types.js'
export type { CheckpointError } from './errors.js'
export { formatCheckpointError } from './errors.js'
export { readCheckpoint, sniffFormat } from './read.js'
export { readSafetensors, writeSafetensors } from './safetensors.js'
export type { SafetensorsContent } from './safetensors.js'
export { readPthLegacy, readPthZip } from './pth.js'
export { unwrapStateDict, toPyData } from './unwrap.js'
export type { Unwrapped } from './unwrap.js'
export { ALLOWED_GLOBALS } from './torch-globals.js'
