import onnxProto from 'onnx-proto';
import { ClearShotError } from '../../errors/index.js';

const { onnx } = onnxProto;

type Model = InstanceType<typeof onnx.ModelProto>;
type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;
const DT = onnx.TensorProto.DataType;
/** Symmetric int8 weights: -127..127 (-128 unused). */
const QMAX = 127;

/**
 * Static int8 quantization of a converted FP32 ONNX graph, in the QDQ form that ONNX
 * Runtime fuses into its int8 kernels: every quantized Conv reads
 * `DequantizeLinear(QuantizeLinear(x))` (uint8, per tensor) and per-channel int8
 * weights through a DequantizeLinear, has an int32 bias, and its output goes through a
 * QuantizeLinear/DequantizeLinear pair. ORT's QDQ transformer turns each such group into
 * one QLinearConv (u8s8, VNNI on x86: int8 activations are not fused there, hence uint8).
 *
 * Everything between two convs (the PReLU lowering) stays in float, as do the convs
 * named in `floatConvs` (the last conv by default: its output is added straight to the
 * picture, where an 8-bit step would be a visible grey-level error).
 */

/** One activation tensor's calibrated range (always contains 0). */
export interface TensorRange {
  readonly min: number;
  readonly max: number;
}

export interface QuantizeOptions {
  /** Conv node names kept in float. */
  readonly floatConvs?: ReadonlySet<string>;
  /** Search each output channel's weight clipping for the least squared error (default true; false: max |w|). */
  readonly weightClip?: boolean;
  /** Per conv input tensor: the per-channel means of its FP32 values (weight-error bias correction). */
  readonly inputMeans?: ReadonlyMap<string, Float64Array | Float32Array>;
  /** Analysis only: fake-quantized float weights, float activations (no int8 kernels then). */
  readonly weightsOnly?: boolean;
}

/** Conv nodes of a model, in graph order: name, activation input, output. */
export interface ConvInfo {
  readonly name: string;
  readonly input: string;
  readonly output: string;
}

export function decodeModel(bytes: Uint8Array): Model {
  return onnx.ModelProto.decode(bytes);
}

export function convNodes(bytes: Uint8Array | Model): ConvInfo[] {
  const model = bytes instanceof Uint8Array ? decodeModel(bytes) : bytes;
  return model.graph!.node!.filter((n) => n.opType === 'Conv').map((n) => ({ name: n.name!, input: n.input![0]!, output: n.output![0]! }));
}

/** The tensors to calibrate: every conv's activation input and output. */
export function calibrationTensors(bytes: Uint8Array): string[] {
  const names = new Set<string>();
  for (const c of convNodes(bytes)) {
    names.add(c.input);
    names.add(c.output);
  }
  return [...names];
}

/** The same graph with the named intermediate tensors exposed as extra outputs. */
export function withExtraOutputs(bytes: Uint8Array, tensors: readonly string[]): Uint8Array {
  const model = decodeModel(bytes);
  const graph = model.graph!;
  const existing = new Set(graph.output!.map((o) => o.name));
  for (const name of tensors) {
    if (existing.has(name)) continue;
    graph.output!.push(
      onnx.ValueInfoProto.create({
        name,
        type: onnx.TypeProto.create({ tensorType: { elemType: DT.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimParam: `${name}_c` }, { dimParam: `${name}_h` }, { dimParam: `${name}_w` }] } } }),
      }),
    );
  }
  return onnx.ModelProto.encode(model).finish();
}

function floatsOf(t: Tensor): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new ClearShotError('MODEL_CONVERSION', `initializer ${t.name} is not float32`);
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array): Tensor {
  return onnx.TensorProto.create({ name, dataType, dims, rawData: raw });
}

const f32 = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

/** uint8 affine parameters for a range: scale and zero point, with 0 exactly representable. */
export function uint8Params(range: TensorRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  const scale = Math.max(hi - lo, 1e-8) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

/**
 * Returns a QDQ int8 model. `ranges` must hold every quantized conv's input and output
 * (see {@link calibrationTensors}).
 */
export function quantizeModel(fp32: Uint8Array, ranges: ReadonlyMap<string, TensorRange>, options: QuantizeOptions = {}): Uint8Array {
  const model = decodeModel(fp32);
  const graph = model.graph!;
  const inits = new Map((graph.initializer! as Tensor[]).map((t) => [t.name!, t]));
  const floatConvs = options.floatConvs ?? new Set<string>();
  const out: Node[] = [];
  const newInits: Tensor[] = [];
  /** float tensor -> its dequantized (QDQ) twin, created once. */
  const qdq = new Map<string, string>();
  const rangeOf = (name: string): TensorRange => {
    const r = ranges.get(name);
    if (!r) throw new ClearShotError('MODEL_CONVERSION', `no calibration range for tensor ${name}`);
    return r;
  };
  const quantParams = (name: string) => {
    const { scale, zeroPoint } = uint8Params(rangeOf(name));
    const s = `${name}.q_scale`;
    const z = `${name}.q_zero`;
    newInits.push(tensor(s, DT.FLOAT, [], f32(new Float32Array([scale]))), tensor(z, DT.UINT8, [], new Uint8Array([zeroPoint])));
    return { scale, s, z };
  };
  /** Emits Q -> DQ of a float tensor and returns the DQ output's name. */
  const dequantized = (name: string, into: Node[]): string => {
    const known = qdq.get(name);
    if (known) return known;
    const { s, z } = quantParams(name);
    const q = `${name}.q`;
    const dq = `${name}.dq`;
    into.push(onnx.NodeProto.create({ opType: 'QuantizeLinear', input: [name, s, z], output: [q], name: `${name}_Q` }));
    into.push(onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [q, s, z], output: [dq], name: `${name}_DQ` }));
    qdq.set(name, dq);
    return dq;
  };

  for (const node of graph.node! as Node[]) {
    if (node.opType !== 'Conv' || floatConvs.has(node.name!)) {
      out.push(node);
      continue;
    }
    const [x, wName, bName] = node.input as string[];
    const w = inits.get(wName!);
    if (!w) throw new ClearShotError('MODEL_CONVERSION', `conv ${node.name}: weight ${wName} is not an initializer`);
    const weights = floatsOf(w);
    const outCh = Number(w.dims![0]);
    const perCh = weights.length / outCh;
    // Per-channel symmetric int8 weights; -128 unused so that the range is symmetric.
    const wScale = new Float32Array(outCh);
    const wq = new Int8Array(weights.length);
    for (let o = 0; o < outCh; o++) {
      const row = weights.subarray(o * perCh, (o + 1) * perCh);
      const s = weightScale(row, options.weightClip ?? true);
      wScale[o] = s;
      for (let k = 0; k < perCh; k++) wq[o * perCh + k] = Math.max(-QMAX, Math.min(QMAX, Math.round(row[k]! / s)));
    }
    if (options.weightsOnly) {
      // Fake-quantized float weights, float activations.
      const fq = new Float32Array(weights.length);
      for (let k = 0; k < fq.length; k++) fq[k] = wq[k]! * wScale[Math.floor(k / perCh)]!;
      newInits.push(tensor(`${node.name}.wfq`, DT.FLOAT, w.dims!.map(Number), f32(fq)));
      out.push(onnx.NodeProto.create({ ...node, input: [x!, `${node.name}.wfq`, ...(bName ? [bName] : [])] }));
      continue;
    }
    // Weight-error bias correction: the rounding error of the weights, times the mean of
    // each input channel, shifts every output channel by a fixed amount per layer;
    // these shifts add up over the trunk into a visible brightness error.
    const inputMean = options.inputMeans?.get(x!);
    const weightShift = new Float32Array(outCh);
    if (inputMean) {
      const inCh = inputMean.length;
      const k = perCh / inCh;
      for (let o = 0; o < outCh; o++) {
        let sum = 0;
        for (let c = 0; c < inCh; c++) for (let j = 0; j < k; j++) {
          const i = o * perCh + c * k + j;
          sum += (wq[i]! * wScale[o]! - weights[i]!) * inputMean[c]!;
        }
        weightShift[o] = sum;
      }
    }
    const xdq = dequantized(x!, out);
    const { scale: xScale } = uint8Params(rangeOf(x!));
    const n = node.name!;
    newInits.push(
      tensor(`${n}.wq`, DT.INT8, w.dims!.map(Number), new Uint8Array(wq.buffer)),
      tensor(`${n}.w_scale`, DT.FLOAT, [outCh], f32(wScale)),
      tensor(`${n}.w_zero`, DT.INT8, [outCh], new Uint8Array(outCh)),
    );
    out.push(onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [`${n}.wq`, `${n}.w_scale`, `${n}.w_zero`], output: [`${n}.w_dq`], name: `${n}_w_DQ`, attribute: [axis0()] }));
    const inputs = [xdq, `${n}.w_dq`];
    if (bName) {
      const b = floatsOf(inits.get(bName)!);
      for (let o = 0; o < outCh; o++) b[o]! -= weightShift[o]!;
      const bScale = new Float32Array(outCh);
      const bq = new Int32Array(outCh);
      for (let o = 0; o < outCh; o++) {
        bScale[o] = Math.fround(xScale * wScale[o]!);
        bq[o] = Math.round(b[o]! / bScale[o]!);
      }
      newInits.push(tensor(`${n}.bq`, DT.INT32, [outCh], new Uint8Array(bq.buffer)), tensor(`${n}.b_scale`, DT.FLOAT, [outCh], f32(bScale)), tensor(`${n}.b_zero`, DT.INT32, [outCh], new Uint8Array(outCh * 4)));
      out.push(onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [`${n}.bq`, `${n}.b_scale`, `${n}.b_zero`], output: [`${n}.b_dq`], name: `${n}_b_DQ`, attribute: [axis0()] }));
      inputs.push(`${n}.b_dq`);
    }
    const y = node.output![0]!;
    const raw = `${y}.raw`;
    out.push(onnx.NodeProto.create({ ...node, input: inputs, output: [raw] }));
    const { s, z } = quantParams(y);
    out.push(onnx.NodeProto.create({ opType: 'QuantizeLinear', input: [raw, s, z], output: [`${y}.q`], name: `${y}_Q` }));
    out.push(onnx.NodeProto.create({ opType: 'DequantizeLinear', input: [`${y}.q`, s, z], output: [y], name: `${y}_DQ` }));
  }
  // Float weights of quantized convs are no longer referenced.
  const used = new Set(out.flatMap((nd) => nd.input as string[]));
  graph.node = out;
  graph.initializer = [...(graph.initializer! as Tensor[]).filter((t) => used.has(t.name!)), ...newInits];
  model.docString = `${model.docString ?? ''} (int8 QDQ)`;
  return onnx.ModelProto.encode(model).finish();
}

function axis0() {
  return onnx.AttributeProto.create({ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 });
}

/**
 * Chooses a tensor's range from calibration samples: the clipping that minimises the
 * expected uint8 quantization error (rounding noise inside, clipping error outside),
 * searched over quantile pairs. Plain min/max is one of the candidates, so a tensor
 * without outliers keeps its full range.
 */
export function chooseRange(samples: Float32Array, method: 'minmax' | 'mse' | number = 'mse'): TensorRange {
  const sorted = Float32Array.from(samples).sort();
  const n = sorted.length;
  if (n === 0) return { min: 0, max: 1 };
  const lo0 = Math.min(0, sorted[0]!);
  const hi0 = Math.max(0, sorted[n - 1]!);
  if (method === 'minmax') return { min: lo0, max: hi0 };
  if (typeof method === 'number') {
    return { min: Math.min(0, sorted[Math.floor(method * (n - 1))]!), max: Math.max(0, sorted[Math.ceil((1 - method) * (n - 1))]!) };
  }
  const tails = [0, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2];
  let best = { min: lo0, max: hi0 };
  let bestErr = Infinity;
  for (const tl of tails) {
    for (const th of tails) {
      const lo = Math.min(0, sorted[Math.floor(tl * (n - 1))]!);
      const hi = Math.max(0, sorted[Math.ceil((1 - th) * (n - 1))]!);
      const err = quantError(sorted, lo, hi);
      if (err < bestErr) {
        bestErr = err;
        best = { min: lo, max: hi };
      }
    }
  }
  return best;
}

/** Mean squared error of uint8 quantization over the samples. */
function quantError(sorted: Float32Array, lo: number, hi: number): number {
  const { scale, zeroPoint } = uint8Params({ min: lo, max: hi });
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i]!;
    const q = Math.min(255, Math.max(0, Math.round(v / scale) + zeroPoint));
    const d = (q - zeroPoint) * scale - v;
    sum += d * d;
  }
  return sum / sorted.length;
}

/** Symmetric int8 scale of one output channel's weights: max |w|, or the clipping with the least squared error. */
export function weightScale(row: Float32Array, search: boolean): number {
  let m = 0;
  for (const v of row) m = Math.max(m, Math.abs(v));
  if (m === 0) return 1;
  if (!search) return Math.fround(m / QMAX);
  let best = Math.fround(m / QMAX);
  let bestErr = Infinity;
  for (let ratio = 1; ratio >= 0.5; ratio -= 0.02) {
    const s = Math.fround((m * ratio) / QMAX);
    let err = 0;
    for (const v of row) {
      const d = Math.max(-QMAX, Math.min(QMAX, Math.round(v / s))) * s - v;
      err += d * d;
    }
    if (err < bestErr) {
      bestErr = err;
      best = s;
    }
  }
  return best;
}
