import { endianness } from 'node:os';
import onnxProto from 'onnx-proto';
import { ClearShotError } from '../../errors/index.js';
import { arrayParam, intParam, parseNcnnParam, type NcnnLayer } from './ncnn-param.js';
import { NcnnWeightReader } from './ncnn-weights.js';

const { onnx } = onnxProto;

/**
 * Converts an ncnn `.param`/`.bin` pair into an ONNX model (opset 17).
 *
 * Supported layers are exactly those the Real-ESRGAN ncnn exports use: Input, Split,
 * Convolution (fp16 or fp32 weights, optional fused ReLU/LeakyReLU), Concat, Eltwise,
 * BinaryOp, Interp (nearest), PReLU and PixelShuffle. Anything else raises a
 * MODEL_CONVERSION error naming the layer, and every byte of the `.bin` must be
 * consumed, so a wrong file pair can never produce a silently wrong network.
 *
 * The ONNX graph has one input `input` and one output `output`, both NCHW float32 with
 * symbolic height and width; the network sees RGB in [0, 1].
 */
export interface ConvertedModel {
  /** Serialized ONNX ModelProto. */
  readonly bytes: Uint8Array;
  /** Multiply-accumulates per input pixel (for GFLOPS reporting). */
  readonly macsPerInputPixel: number;
  /** Output size / input size, from Interp and PixelShuffle layers. */
  readonly scale: number;
  readonly layerCounts: Readonly<Record<string, number>>;
}

export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';
const OPSET = 17;

type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

/** What the builder knows about each ONNX value. */
interface ValueInfo {
  /** Spatial area relative to the input (1 = input resolution). */
  readonly area: number;
  readonly channels: number;
  /** Set when a Conv produced the value; `linear` when no activation follows (for folding). */
  readonly conv?: { readonly weight: Float32Array; readonly bias?: Float32Array; readonly linear: boolean };
  /**
   * Channels stored with their sign flipped (1 = flipped), by the max-form PReLU: every
   * consumer is a Convolution, which negates its weights for these input channels.
   */
  readonly negated?: Uint8Array;
}

class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly initializers: Tensor[] = [];
  /** ncnn blob name -> ONNX value name (Split makes several blobs share one value). */
  private readonly values = new Map<string, string>();
  private readonly consumed = new Set<string>();
  private readonly info = new Map<string, ValueInfo>();
  /** How many blobs refer to each value; a value with one blob has one consumer. */
  private readonly blobsPerValue = new Map<string, number>();
  private counter = 0;
  macsPerInputPixel = 0;

  bind(blob: string, value: string, info: ValueInfo): void {
    this.values.set(blob, value);
    this.info.set(value, info);
    this.blobsPerValue.set(value, (this.blobsPerValue.get(value) ?? 0) + 1);
  }

  use(layer: NcnnLayer, blob: string): string {
    const value = this.values.get(blob);
    if (value === undefined) fail(layer, `reads blob ${blob} before any layer produces it`);
    this.consumed.add(blob);
    return value;
  }

  infoOf(value: string): ValueInfo {
    return this.info.get(value) ?? { area: 1, channels: 3 };
  }

  /** True when exactly one ncnn blob (hence one consumer) refers to the value. */
  singleUse(value: string): boolean {
    return this.blobsPerValue.get(value) === 1;
  }

  fresh(hint: string): string {
    return `${hint}__${this.counter++}`;
  }

  weight(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(
      onnx.TensorProto.create({
        name,
        dims,
        dataType: onnx.TensorProto.DataType.FLOAT,
        // A view, not a copy: folding may still scale the array before serialization.
        rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      }),
    );
    return name;
  }

  node(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, number | number[] | string> = {}): void {
    const attribute = Object.entries(attrs).map(([key, v]) => {
      if (typeof v === 'string') return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) });
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
      if (FLOAT_ATTRIBUTES.has(key)) return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.FLOAT, f: v });
      return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: v });
    });
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: outputs, name, attribute }));
  }

  /**
   * Multiplies a value by per-channel constants. BatchNormalization with unit variance
   * is used rather than Mul because ORT turns it into an NCHWc depthwise convolution,
   * while Mul by a constant would force a layout round trip.
   */
  scaleChannels(value: string, factors: Float32Array, name: string): string {
    const count = factors.length;
    const out = this.fresh(name);
    const zeros = this.weight(`${name}.zeros`, [count], new Float32Array(count));
    const ones = this.weight(`${name}.ones`, [count], new Float32Array(count).fill(1));
    this.node('BatchNormalization', [value, this.weight(`${name}.scale`, [count], factors), zeros, zeros, ones], [out], name, { epsilon: 0 });
    return out;
  }

  /** Blobs produced and never read: the graph's outputs. */
  danglingBlobs(): string[] {
    return [...this.values.keys()].filter((b) => !this.consumed.has(b));
  }

  valueOf(blob: string): string | undefined {
    return this.values.get(blob);
  }
}

const FLOAT_ATTRIBUTES = new Set(['alpha', 'epsilon']);

function fail(layer: NcnnLayer, what: string): never {
  throw new ClearShotError('MODEL_CONVERSION', `ncnn layer ${layer.type} ${layer.name} (line ${layer.line}): ${what}`);
}

function expectIo(layer: NcnnLayer, bottoms: number | 'many', tops: number): void {
  const okBottoms = bottoms === 'many' ? layer.bottoms.length >= 1 : layer.bottoms.length === bottoms;
  if (!okBottoms || layer.tops.length !== tops) {
    fail(layer, `expected ${bottoms} input(s) and ${tops} output(s), found ${layer.bottoms.length} and ${layer.tops.length}`);
  }
}

function onlyTop(layer: NcnnLayer): string {
  return layer.tops[0]!;
}

function convertConvolution(g: GraphBuilder, layer: NcnnLayer, w: NcnnWeightReader): void {
  expectIo(layer, 1, 1);
  const out = intParam(layer, 0, 0);
  const kw = intParam(layer, 1, 0);
  const kh = intParam(layer, 11, kw);
  const dw = intParam(layer, 2, 1);
  const dh = intParam(layer, 12, dw);
  const sw = intParam(layer, 3, 1);
  const sh = intParam(layer, 13, sw);
  const padLeft = intParam(layer, 4, 0);
  const padRight = intParam(layer, 15, padLeft);
  const padTop = intParam(layer, 14, padLeft);
  const padBottom = intParam(layer, 16, padTop);
  const biasTerm = intParam(layer, 5, 0);
  const weightCount = intParam(layer, 6, 0);
  const activation = intParam(layer, 9, 0);
  const activationParams = arrayParam(layer, 10);
  if (out <= 0 || kw <= 0 || kh <= 0 || weightCount <= 0) fail(layer, 'missing num_output, kernel size or weight_data_size');
  if ([padLeft, padRight, padTop, padBottom].some((p) => p < 0)) fail(layer, 'automatic (SAME) padding is not supported');
  if (intParam(layer, 18, 0) !== 0) fail(layer, 'non-zero pad_value is not supported');
  if (intParam(layer, 8, 0) !== 0) fail(layer, 'int8 convolution is not supported');
  if (intParam(layer, 19, 0) !== 0) fail(layer, 'dynamic weights are not supported');
  const inChannels = weightCount / (out * kw * kh);
  if (!Number.isInteger(inChannels)) fail(layer, `weight_data_size ${weightCount} is not a multiple of ${out}x${kh}x${kw}`);

  const input = g.use(layer, layer.bottoms[0]!);
  const weights = w.flagged(weightCount, `${layer.name} weights`);
  const negated = g.infoOf(input).negated;
  if (negated) {
    const k = kh * kw;
    for (let o = 0; o < out; o++) {
      for (let c = 0; c < inChannels; c++) {
        if (!negated[c]) continue;
        for (let j = 0; j < k; j++) weights[(o * inChannels + c) * k + j] = -weights[(o * inChannels + c) * k + j]!;
      }
    }
  }
  const inputs = [input, g.weight(`${layer.name}.weight`, [out, inChannels, kh, kw], weights)];
  const bias = biasTerm ? w.raw(out, `${layer.name} bias`) : undefined;
  if (bias) inputs.push(g.weight(`${layer.name}.bias`, [out], bias));

  const area = g.infoOf(input).area / (sw * sh);
  g.macsPerInputPixel += weightCount * area;
  const convOut = activation === 0 ? g.fresh(layer.name) : g.fresh(`${layer.name}_conv`);
  g.node('Conv', inputs, [convOut], layer.name, {
    kernel_shape: [kh, kw],
    pads: [padTop, padLeft, padBottom, padRight],
    strides: [sh, sw],
    dilations: [dh, dw],
  });
  let result = convOut;
  if (activation !== 0) {
    result = g.fresh(layer.name);
    const slope = activationParams[0] ?? 0;
    if (activation === 1 || (activation === 2 && slope === 0)) g.node('Relu', [convOut], [result], `${layer.name}_relu`);
    else if (activation === 2) g.node('LeakyRelu', [convOut], [result], `${layer.name}_leakyrelu`, { alpha: slope });
    else fail(layer, `fused activation type ${activation} is not supported (only 0 none, 1 ReLU, 2 LeakyReLU)`);
  }
  g.bind(onlyTop(layer), result, { area, channels: out, conv: { weight: weights, ...(bias ? { bias } : {}), linear: activation === 0 } });
}

/**
 * PReLU lowered to a per-channel affine pair: y = a*x + (1-a)*relu(x).
 *
 * NOTE: ONNX Runtime's CPU PRelu is a slow, data-dependent broadcasting kernel and
 * forces the blocked NCHWc layout back to NCHW around every call (profiled on
 * realesr-general-x4v3: PRelu 31% and layout reorders 9% of a run). Per-channel scales
 * are emitted as unit-variance BatchNormalization, which ORT rewrites into NCHWc
 * depthwise convolutions, and Relu stays NCHWc, so the trunk keeps one layout. On real
 * photos this is measurably faster (docs/BENCHMARKS.md, "Model-only throughput").
 * Exact for any slope, including a < 0 or a > 1.
 */
function convertPRelu(g: GraphBuilder, layer: NcnnLayer, w: NcnnWeightReader, plain: boolean, maxForm: boolean): void {
  expectIo(layer, 1, 1);
  const count = intParam(layer, 0, 0);
  if (count <= 0) fail(layer, 'num_slope must be positive');
  const input = g.use(layer, layer.bottoms[0]!);
  const slopes = w.raw(count, `${layer.name} slope`);
  const info = g.infoOf(input);
  let result: string;
  const producer = info.conv;
  if (maxForm && count > 1 && producer?.linear && g.singleUse(input)) {
    // PReLU(z) = max(z, a*z) for a <= 1 (negative slopes too) and min(z, a*z) for a > 1.
    // For a > 1 the producing conv computes -z instead (its weights and bias negated),
    // so max(-z, -a*z) = -PReLU(z), and the consuming convs negate that input channel
    // back. Two elementwise passes, and layout-agnostic (ORT keeps it NHWC between its
    // int8 convolutions).
    const flip = new Uint8Array(count);
    const perOut = producer.weight.length / count;
    slopes.forEach((a, c) => {
      if (a <= 1) return;
      flip[c] = 1;
      for (let k = 0; k < perOut; k++) producer.weight[c * perOut + k] = -producer.weight[c * perOut + k]!;
      if (producer.bias) producer.bias[c] = -producer.bias[c]!;
    });
    const scaled = g.fresh(`${layer.name}_scaled`);
    g.node('Mul', [input, g.weight(`${layer.name}.slope`, [count, 1, 1], slopes)], [scaled], `${layer.name}_scaled`);
    result = g.fresh(layer.name);
    g.node('Max', [input, scaled], [result], layer.name);
    g.bind(onlyTop(layer), result, { area: info.area, channels: info.channels, ...(flip.some((f) => f) ? { negated: flip } : {}) });
    return;
  }
  if (count === 1 || plain) {
    result = g.fresh(layer.name);
    g.node('PRelu', [input, g.weight(`${layer.name}.slope`, count === 1 ? [1] : [count, 1, 1], slopes)], [result], layer.name);
  } else {
    const relu = g.fresh(`${layer.name}_relu`);
    g.node('Relu', [input], [relu], `${layer.name}_relu`);
    const linear = g.scaleChannels(input, slopes, `${layer.name}_neg_slope`);
    const positive = g.scaleChannels(relu, slopes.map((a) => 1 - a), `${layer.name}_pos_slope`);
    result = g.fresh(layer.name);
    g.node('Add', [linear, positive], [result], layer.name);
  }
  g.bind(onlyTop(layer), result, { area: info.area, channels: info.channels });
}

function convertConcat(g: GraphBuilder, layer: NcnnLayer): void {
  expectIo(layer, 'many', 1);
  let axis = intParam(layer, 0, 0);
  if (axis < 0) axis += 3; // ncnn blobs here are CHW
  if (axis < 0 || axis > 2) fail(layer, `axis ${intParam(layer, 0, 0)} is out of range`);
  const inputs = layer.bottoms.map((b) => g.use(layer, b));
  const result = g.fresh(layer.name);
  g.node('Concat', inputs, [result], layer.name, { axis: axis + 1 });
  const first = g.infoOf(inputs[0]!);
  const channels = axis === 0 ? inputs.reduce((sum, v) => sum + g.infoOf(v).channels, 0) : first.channels;
  g.bind(onlyTop(layer), result, { area: first.area, channels });
}

/**
 * Eltwise sum with coefficients. A coefficient on the output of a single-use
 * convolution is folded into that convolution's weights and bias; any other
 * coefficient becomes a per-channel scale. Plain sums then fuse into ORT's NCHWc
 * convolutions.
 */
function convertEltwise(g: GraphBuilder, layer: NcnnLayer): void {
  expectIo(layer, 'many', 1);
  const op = intParam(layer, 0, 1);
  const coeffs = arrayParam(layer, 1);
  const inputs = layer.bottoms.map((b) => g.use(layer, b));
  const result = g.fresh(layer.name);
  const info = g.infoOf(inputs[0]!);
  if (op === 1) {
    if (coeffs.length !== 0 && coeffs.length !== inputs.length) fail(layer, `has ${inputs.length} inputs but ${coeffs.length} coefficients`);
    const scaled = inputs.map((value, i) => {
      const c = coeffs[i] ?? 1;
      if (c === 1) return value;
      const conv = g.infoOf(value).conv;
      // A linear conv takes any factor; with ReLU/LeakyReLU (positively homogeneous:
      // f(c*x) = c*f(x) for c > 0) only a positive one.
      if (conv && g.singleUse(value) && (conv.linear || c > 0)) {
        conv.weight.forEach((v, k) => (conv.weight[k] = v * c));
        conv.bias?.forEach((v, k) => (conv.bias![k] = v * c));
        return value;
      }
      return g.scaleChannels(value, new Float32Array(g.infoOf(value).channels).fill(c), `${layer.name}_coeff${i}`);
    });
    g.node('Sum', scaled, [result], layer.name);
  } else if (op === 0 || op === 2) {
    if (coeffs.length !== 0) fail(layer, 'coefficients are only supported for sum');
    g.node(op === 0 ? 'Mul' : 'Max', inputs, [result], layer.name);
  } else {
    fail(layer, `operation ${op} is not supported`);
  }
  g.bind(onlyTop(layer), result, { area: info.area, channels: info.channels });
}

const BINARY_OPS = ['Add', 'Sub', 'Mul', 'Div'] as const;

function convertBinaryOp(g: GraphBuilder, layer: NcnnLayer): void {
  const op = intParam(layer, 0, 0);
  const opType = BINARY_OPS[op];
  if (opType === undefined) fail(layer, `operation ${op} is not supported (only add, sub, mul, div)`);
  const withScalar = intParam(layer, 1, 0);
  expectIo(layer, withScalar ? 1 : 2, 1);
  const a = g.use(layer, layer.bottoms[0]!);
  const b = withScalar ? g.weight(`${layer.name}.b`, [], new Float32Array([intParam(layer, 2, 0)])) : g.use(layer, layer.bottoms[1]!);
  const result = g.fresh(layer.name);
  g.node(opType, [a, b], [result], layer.name);
  const info = g.infoOf(a);
  g.bind(onlyTop(layer), result, { area: info.area, channels: info.channels });
}

function convertInterp(g: GraphBuilder, layer: NcnnLayer): void {
  expectIo(layer, 1, 1);
  const mode = intParam(layer, 0, 0);
  const hs = intParam(layer, 1, 1);
  const ws = intParam(layer, 2, 1);
  if (mode !== 1) fail(layer, `resize type ${mode} is not supported (only 1, nearest)`);
  if (intParam(layer, 3, 0) !== 0 || intParam(layer, 4, 0) !== 0) fail(layer, 'a fixed output size is not supported (only scale factors)');
  if (hs <= 0 || ws <= 0) fail(layer, 'scale factors must be positive');
  const input = g.use(layer, layer.bottoms[0]!);
  const scales = g.weight(`${layer.name}.scales`, [4], new Float32Array([1, 1, hs, ws]));
  const result = g.fresh(layer.name);
  g.node('Resize', [input, '', scales], [result], layer.name, {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });
  const info = g.infoOf(input);
  g.bind(onlyTop(layer), result, { area: info.area * hs * ws, channels: info.channels });
}

function convertPixelShuffle(g: GraphBuilder, layer: NcnnLayer): void {
  expectIo(layer, 1, 1);
  const r = intParam(layer, 0, 1);
  const mode = intParam(layer, 1, 0);
  if (r < 1) fail(layer, 'upscale_factor must be positive');
  if (mode !== 0 && mode !== 1) fail(layer, `mode ${mode} is not supported`);
  const input = g.use(layer, layer.bottoms[0]!);
  const result = g.fresh(layer.name);
  // ncnn mode 0 is PyTorch's pixel_shuffle channel order, which ONNX calls CRD.
  g.node('DepthToSpace', [input], [result], layer.name, { blocksize: r, mode: mode === 0 ? 'CRD' : 'DCR' });
  const info = g.infoOf(input);
  if (info.channels % (r * r) !== 0) fail(layer, `${info.channels} channels cannot be shuffled by ${r}`);
  g.bind(onlyTop(layer), result, { area: info.area * r * r, channels: info.channels / (r * r) });
}

export interface ConvertOptions {
  /**
   * Emit plain ONNX PRelu instead of the NCHWc-friendly lowering. Only for the
   * benchmark that measures what the lowering is worth.
   */
  readonly plainPRelu?: boolean;
  /**
   * Lower PReLU as max(z, a*z), flipping signs through the neighbouring convs where
   * a > 1 (two elementwise passes; the int8 variant's form). Applies where the PReLU
   * reads a single-use linear conv and only convs read it; others keep the default.
   */
  readonly maxPRelu?: boolean;
}

/** True when at least one layer reads the blob and every reader is a Convolution. */
function onlyConvsRead(layers: readonly NcnnLayer[], blob: string): boolean {
  const readers = layers.filter((l) => l.bottoms.includes(blob));
  return readers.length > 0 && readers.every((l) => l.type === 'Convolution');
}

export function convertNcnnToOnnx(paramText: string, weights: Uint8Array, modelName: string, options: ConvertOptions = {}): ConvertedModel {
  if (endianness() !== 'LE') throw new ClearShotError('MODEL_CONVERSION', 'the converter needs a little-endian host');
  const graph = parseNcnnParam(paramText);
  const g = new GraphBuilder();
  const reader = new NcnnWeightReader(weights);
  const layerCounts: Record<string, number> = {};
  let inputs = 0;

  for (const layer of graph.layers) {
    layerCounts[layer.type] = (layerCounts[layer.type] ?? 0) + 1;
    switch (layer.type) {
      case 'Input':
        expectIo(layer, 0, 1);
        if (++inputs > 1) fail(layer, 'only one graph input is supported');
        g.bind(onlyTop(layer), ONNX_INPUT, { area: 1, channels: 3 });
        break;
      case 'Split': {
        expectIo(layer, 1, layer.tops.length);
        const value = g.use(layer, layer.bottoms[0]!);
        for (const top of layer.tops) g.bind(top, value, g.infoOf(value));
        break;
      }
      case 'Convolution':
        convertConvolution(g, layer, reader);
        break;
      case 'PReLU':
        convertPRelu(g, layer, reader, options.plainPRelu ?? false, (options.maxPRelu ?? false) && layer.tops.every((t) => onlyConvsRead(graph.layers, t)));
        break;
      case 'Concat':
        convertConcat(g, layer);
        break;
      case 'Eltwise':
        convertEltwise(g, layer);
        break;
      case 'BinaryOp':
        convertBinaryOp(g, layer);
        break;
      case 'Interp':
        convertInterp(g, layer);
        break;
      case 'PixelShuffle':
        convertPixelShuffle(g, layer);
        break;
      default:
        fail(layer, 'this layer type is not supported by the converter');
    }
  }
  reader.assertFullyConsumed();
  if (inputs !== 1) throw new ClearShotError('MODEL_CONVERSION', 'ncnn graph has no Input layer');

  const dangling = g.danglingBlobs();
  if (dangling.length !== 1) {
    throw new ClearShotError('MODEL_CONVERSION', `ncnn graph must have exactly one output, found ${dangling.length}: ${dangling.join(', ')}`);
  }
  const finalValue = g.valueOf(dangling[0]!)!;
  const scale = Math.sqrt(g.infoOf(finalValue).area);
  // Rename the last node's output to the fixed graph output name.
  for (const node of g.nodes) node.output = node.output.map((o) => (o === finalValue ? ONNX_OUTPUT : o));

  const dims = (h: string, w: string) => [{ dimValue: 1 }, { dimValue: 3 }, { dimParam: h }, { dimParam: w }];
  const tensorType = (h: string, w: string) =>
    onnx.TypeProto.create({
      tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims(h, w) } },
    });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'clearshot',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: OPSET }],
    docString: `Converted from ncnn model ${modelName} by ClearShot`,
    graph: onnx.GraphProto.create({
      name: modelName,
      node: g.nodes,
      initializer: g.initializers,
      input: [onnx.ValueInfoProto.create({ name: ONNX_INPUT, type: tensorType('height', 'width') })],
      output: [onnx.ValueInfoProto.create({ name: ONNX_OUTPUT, type: tensorType('out_height', 'out_width') })],
    }),
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return { bytes, macsPerInputPixel: g.macsPerInputPixel, scale, layerCounts };
}
