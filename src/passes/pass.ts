// A pass is a named pure function Graph → Either<CompileError, Graph>. `pipeline` composes passes and
// verifies the graph after every one of them (tinygrad `type_verify`, torch.fx `lint` after rewrite), so a
// broken rewrite is reported against the pass that produced it, not where it finally crashes.

import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { Graph } from '../ir/graph.js'
import type { CompileError } from '../ir/errors.js'
import { formatError } from '../ir/errors.js'
import { verify } from '../ir/verify.js'

/** A graph-to-graph rewrite. */
export interface Pass {
  readonly name: string
  readonly run: (g: Graph) => E.Either<CompileError, Graph>
}

const verifyAfter = (pass: string) => (g: Graph): E.Either<CompileError, Graph> =>
  pipe(
    verify(g),
    E.bimap((e): CompileError => (e._tag === 'Invariant' ? e : { _tag: 'Invariant', pass, message: formatError(e) }), () => g),
  )

/** Runs passes in order, verifying after each. */
export const pipeline = (...passes: ReadonlyArray<Pass>): Pass => ({
  name: passes.map((p) => p.name).join(' > '),
  run: (g) => passes.reduce<E.Either<CompileError, Graph>>((acc, p) => pipe(acc, E.flatMap(p.run), E.flatMap(verifyAfter(p.name))), E.right(g)),
})
