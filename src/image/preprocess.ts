// The evaluation preprocessing of an image file, as SparK's visualisation notebook and torchvision's
// eval transforms: decode (PNG/JPEG, alpha dropped) → resize the shorter side to `size` (bilinear,
// antialiased) → centre-crop size×size → [0, 1] → ImageNet mean/std normalisation → (1, size, size, 3)
// NHWC float32. Shared by `sparkts run --input <image>` and `sparkts reconstruct --image`.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { HostTensor } from '../ir/types.js'
import { decodeImage } from './codec.js'
import type { FloatImage } from './image.js'
import { toFloatImage } from './image.js'
import { normaliseImage } from './normalise.js'
import { centreCrop, resizeShorterSide } from './transform.js'

/** One-line description of the preprocessing, for --help texts. */
export const PREPROCESS_HELP = 'resize the shorter side to N (bilinear), centre-crop NxN, scale to [0,1], normalise with the ImageNet mean (0.485,0.456,0.406) and std (0.229,0.224,0.225)'

/** True when a path names an image file (by extension). */
export const isImagePath = (path: string): boolean => /\.(png|jpe?g)$/i.test(path)

/** Resize-shorter-side then centre-crop to size×size, in [0, 1]. */
export const fitImage = (img: FloatImage, size: number): E.Either<string, FloatImage> => centreCrop(resizeShorterSide(img, size), size, size)

/** Image file bytes → the normalised (1, size, size, 3) input tensor. */
export const preprocessImage = (bytes: Uint8Array, size: number, name = 'image'): E.Either<string, HostTensor> =>
  pipe(
    decodeImage(bytes, name),
    E.map(toFloatImage),
    E.chain((img) => fitImage(img, size)),
    E.map(normaliseImage),
  )
