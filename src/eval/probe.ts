// The linear probe: frozen backbone features (features.ts: eval-mode BN, global-average-pooled last map
// or all four scales) of the train and test splits → standardised with the train statistics →
// multinomial logistic regression fitted on train (logistic.ts) → accuracy on test. Reports timings so
// the CLI can print them; the weights come from a checkpoint or from the seeded random initialisation.

import * as E from 'fp-ts/lib/Either.js'
import type { Backend } from '../backends/backend.js'
import type { Backbone } from '../models/backbone.js'
import type { FeatureScales } from './features.js'
import { extractFeatures } from './features.js'
import type { LabelledSplits } from './labelled-data.js'
import { accuracy, fitLogistic, predict, standardise } from './logistic.js'
import type { BackboneParams } from './weights.js'

/** Options of `linearProbe`. */
export interface ProbeOptions {
  readonly inputSize: number
  readonly scales: FeatureScales
  readonly seed: number
  readonly params?: BackboneParams
  /** Adam iterations of the logistic regression (default 300). */
  readonly iterations?: number
  readonly l2?: number
}

/** What the probe measured. */
export interface ProbeResult {
  readonly trainAccuracy: number
  readonly testAccuracy: number
  readonly featureDim: number
  readonly trainImages: number
  readonly testImages: number
  readonly extractSeconds: number
  readonly fitSeconds: number
}

/** Runs the linear probe of `bb` on the splits. */
export const linearProbe = async (backend: Backend, bb: Backbone, data: LabelledSplits, o: ProbeOptions): Promise<E.Either<string, ProbeResult>> => {
  const t0 = performance.now()
  const feats = await extractFeatures(backend, bb, [data.train, data.test], { inputSize: o.inputSize, scales: o.scales, seed: o.seed, ...(o.params === undefined ? {} : { params: o.params }) })
  if (E.isLeft(feats)) return feats
  const t1 = performance.now()
  const [trRaw, teRaw] = feats.right
  if (trRaw === undefined || teRaw === undefined || data.train.labels === undefined || data.test.labels === undefined) return E.left('the probe needs labelled train and test splits')
  const [tr, te] = standardise(trRaw, teRaw)
  if (tr === undefined || te === undefined) return E.left('internal: standardise')
  const fit = fitLogistic(tr, data.train.labels, { classes: data.classes.length, ...(o.iterations === undefined ? {} : { iterations: o.iterations }), ...(o.l2 === undefined ? {} : { l2: o.l2 }) })
  const t2 = performance.now()
  return E.right({
    trainAccuracy: accuracy(predict(fit.model, tr), data.train.labels),
    testAccuracy: accuracy(predict(fit.model, te), data.test.labels),
    featureDim: tr.d,
    trainImages: tr.n,
    testImages: te.n,
    extractSeconds: (t1 - t0) / 1000,
    fitSeconds: (t2 - t1) / 1000,
  })
}
