import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/**
 * Tiny ONNX models with the GFPGAN/CodeFormer signature (1x3x512x512 in [-1, 1]), made
 * here because real face-restoration weights cannot ship with ClearShot (issue 7).
 * - `negate`: output = -input, i.e. the colours inverted: easy to see where it was pasted.
 * - `halve`: a 2x2 average pool, 1x3x256x256 out: the wrong signature.
 */
export function tinyFaceModel(kind: 'negate' | 'halve'): Uint8Array {
  const n = 512;
  const io = (name: string, size: number) =>
    onnx.ValueInfoProto.create({
      name,
      type: onnx.TypeProto.create({ tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: size }, { dimValue: size }] } } }),
    });
  const node =
    kind === 'negate'
      ? onnx.NodeProto.create({ opType: 'Neg', input: ['x'], output: ['y'], name: 'neg' })
      : onnx.NodeProto.create({
          opType: 'AveragePool',
          input: ['x'],
          output: ['y'],
          name: 'pool',
          attribute: [
            onnx.AttributeProto.create({ name: 'kernel_shape', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 2] }),
            onnx.AttributeProto.create({ name: 'strides', type: onnx.AttributeProto.AttributeType.INTS, ints: [2, 2] }),
          ],
        });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'clearshot-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: onnx.GraphProto.create({ name: `tiny-${kind}`, node: [node], input: [io('x', n)], output: [io('y', kind === 'negate' ? n : n / 2)] }),
  });
  return onnx.ModelProto.encode(model).finish();
}
