// The tiny ResNet-like CNN of the SparK oracle fixture, as a custom-backbone module (default export and
// `sparkTinyCnn`), usable as `--arch examples/spark-tiny-cnn.js`. Its definition lives in
// src/models/spark-tiny.ts, where the zoo registers it as `spark_tiny_resnet`.

import { sparkTinyCnn } from '../src/models/spark-tiny.js'

export { sparkTinyCnn }
export default sparkTinyCnn
