import onnxProto from 'onnx-proto';
import { ClearShotError } from '../../errors/index.js';
import { ONNX_INPUT, ONNX_OUTPUT, type ConvertedModel } from './ncnn-to-onnx.js';

const { onnx } = onnxProto;

/**
 * Converts a TensorFlow.js "layers-model" (Keras topology JSON + weight shards) into
 * an ONNX model (opset 17), for the face path's fidelity network (issue 7): the RDN
 * super-resolution weights of `@upscalerjs/esrgan-*` (MIT). Running them in ONNX
 * Runtime keeps onnx-session.ts the one module that executes networks.
 *
 * Supported layers are exactly those the RDN exports use: InputLayer, Conv2D (stride
 * 1, no dilation, `same` or `valid` padding, linear or relu activation), Activation
 * (relu), Concatenate (channel axis), Add and UpSampling2D (nearest). Anything else
 * raises MODEL_CONVERSION naming the layer, and every weight of the manifest must be
 * used exactly once with the shape the layer expects.
 *
 * The graph has input `input` and output `output`, NCHW float32 RGB with symbolic
 * height and width. `inputRange` is the value range the network was trained on
 * (255 for UpscalerJS's RDN models); the graph scales [0, 1] to it and back, so every
 * ClearShot network sees and returns [0, 1].
 */
export interface KerasWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
}

export interface KerasModelJson {
  readonly format?: string;
  readonly modelTopology: { readonly model_config: { readonly class_name: string; readonly config: { readonly layers: readonly KerasLayer[] } } };
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: readonly KerasWeightSpec[] }[];
}

interface KerasLayer {
  readonly class_name: string;
  readonly name?: string;
  readonly config: Record<string, unknown> & { readonly name: string };
  readonly inbound_nodes: readonly (readonly (readonly [string, number, number, unknown])[])[];
}

const OPSET = 17;
type Node = InstanceType<typeof onnx.NodeProto>;
type Tensor = InstanceType<typeof onnx.TensorProto>;

function fail(layer: KerasLayer | undefined, what: string): never {
  const where = layer ? `keras layer ${layer.class_name} ${layer.config.name}: ` : 'keras model: ';
  throw new ClearShotError('MODEL_CONVERSION', where + what);
}

/** Reads the weights of a manifest in order from the concatenated shard bytes. */
function readWeights(json: KerasModelJson, shards: Uint8Array): Map<string, { shape: readonly number[]; data: Float32Array }> {
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  let offset = 0;
  for (const group of json.weightsManifest) {
    for (const w of group.weights) {
      if (w.dtype !== 'float32') fail(undefined, `weight ${w.name} has dtype ${w.dtype}, only float32 is supported`);
      const count = w.shape.reduce((a, b) => a * b, 1);
      const bytes = count * 4;
      if (offset + bytes > shards.byteLength) fail(undefined, `weight ${w.name} runs past the end of the weight data`);
      // Copy: the shard buffer may be unaligned, and transposition needs its own array anyway.
      const data = new Float32Array(count);
      new Uint8Array(data.buffer).set(shards.subarray(offset, offset + bytes));
      offset += bytes;
      out.set(w.name, { shape: w.shape, data });
    }
  }
  if (offset !== shards.byteLength) fail(undefined, `${shards.byteLength - offset} bytes of weight data are not described by the manifest`);
  return out;
}

/** Keras HWIO kernel -> ONNX OIHW. */
function hwioToOihw(data: Float32Array, kh: number, kw: number, cin: number, cout: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o]!;
  return out;
}

export function convertKerasToOnnx(json: KerasModelJson, shards: Uint8Array, modelName: string, inputRange = 255): ConvertedModel {
  if (json.modelTopology?.model_config?.class_name !== 'Functional' && json.modelTopology?.model_config?.class_name !== 'Model') {
    fail(undefined, 'only functional Keras models are supported');
  }
  const layers = json.modelTopology.model_config.config.layers;
  const weights = readWeights(json, shards);
  const used = new Set<string>();
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  const channels = new Map<string, number>();
  const area = new Map<string, number>();
  const consumed = new Set<string>();
  const layerCounts: Record<string, number> = {};
  let macsPerInputPixel = 0;

  const take = (layer: KerasLayer, suffix: string, shape: readonly number[]): Float32Array => {
    const name = `${layer.config.name}/${suffix}`;
    const w = weights.get(name);
    if (!w) fail(layer, `weight ${name} is missing`);
    if (used.has(name)) fail(layer, `weight ${name} is used twice`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      fail(layer, `weight ${name} has shape [${w.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    used.add(name);
    return w.data;
  };
  const init = (name: string, dims: number[], data: Float32Array): string => {
    initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }));
    return name;
  };
  const node = (opType: string, inputs: string[], output: string, attrs: Record<string, number | number[] | string> = {}): void => {
    const attribute = Object.entries(attrs).map(([key, v]) => {
      if (typeof v === 'string') return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(v) });
      if (Array.isArray(v)) return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
      return onnx.AttributeProto.create({ name: key, type: onnx.AttributeProto.AttributeType.INT, i: v });
    });
    nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [output], name: output, attribute }));
  };
  const inputsOf = (layer: KerasLayer): string[] => {
    const inbound = layer.inbound_nodes[0] ?? [];
    return inbound.map(([name]) => {
      if (!channels.has(name)) fail(layer, `reads ${name} before any layer produces it`);
      consumed.add(name);
      return name;
    });
  };
  const expectInputs = (layer: KerasLayer, ins: string[], count: number | 'many'): void => {
    if (count === 'many' ? ins.length < 2 : ins.length !== count) fail(layer, `expects ${count === 'many' ? 'two or more' : count} input(s), has ${ins.length}`);
  };

  for (const layer of layers) {
    const cfg = layer.config;
    const name = cfg.name;
    layerCounts[layer.class_name] = (layerCounts[layer.class_name] ?? 0) + 1;
    switch (layer.class_name) {
      case 'InputLayer': {
        const shape = cfg['batch_input_shape'] as (number | null)[] | undefined;
        if (!shape || shape.length !== 4 || shape[3] !== 3) fail(layer, 'input must be NHWC with 3 channels');
        if (channels.size > 0) fail(layer, 'only one input is supported');
        // [0, 1] -> the network's range.
        node('Mul', [ONNX_INPUT, init(`${name}.range`, [], new Float32Array([inputRange]))], name);
        channels.set(name, 3);
        area.set(name, 1);
        break;
      }
      case 'Conv2D': {
        const [src] = inputsOf(layer);
        const ins = src === undefined ? [] : [src];
        expectInputs(layer, ins, 1);
        const [kh, kw] = cfg['kernel_size'] as [number, number];
        const strides = cfg['strides'] as [number, number];
        const dilation = (cfg['dilation_rate'] as [number, number] | undefined) ?? [1, 1];
        const padding = cfg['padding'] as string;
        const activation = cfg['activation'] as string;
        const filters = cfg['filters'] as number;
        if (strides[0] !== 1 || strides[1] !== 1 || dilation[0] !== 1 || dilation[1] !== 1) fail(layer, 'only stride 1 without dilation is supported');
        if ((cfg['groups'] as number | undefined ?? 1) !== 1) fail(layer, 'grouped convolution is not supported');
        if (cfg['data_format'] !== 'channels_last') fail(layer, 'only channels_last is supported');
        if (padding !== 'same' && padding !== 'valid') fail(layer, `padding ${padding} is not supported`);
        if (padding === 'same' && (kh % 2 === 0 || kw % 2 === 0)) fail(layer, 'same padding needs an odd kernel');
        if (padding === 'valid' && (kh !== 1 || kw !== 1)) fail(layer, 'valid padding would shrink the image; only 1x1 kernels are supported with it');
        if (activation !== 'linear' && activation !== 'relu') fail(layer, `activation ${activation} is not supported`);
        const cin = channels.get(src!)!;
        const kernel = take(layer, 'kernel', [kh, kw, cin, filters]);
        const useBias = cfg['use_bias'] !== false;
        const conv = activation === 'relu' ? `${name}.pre` : name;
        const convInputs = [src!, init(`${name}.weight`, [filters, cin, kh, kw], hwioToOihw(kernel, kh, kw, cin, filters))];
        if (useBias) convInputs.push(init(`${name}.bias`, [filters], take(layer, 'bias', [filters])));
        const ph = (kh - 1) / 2;
        const pw = (kw - 1) / 2;
        node('Conv', convInputs, conv, { kernel_shape: [kh, kw], pads: [ph, pw, ph, pw], strides: [1, 1] });
        if (activation === 'relu') node('Relu', [conv], name);
        channels.set(name, filters);
        area.set(name, area.get(src!)!);
        macsPerInputPixel += area.get(src!)! * kh * kw * cin * filters;
        break;
      }
      case 'Activation': {
        const ins = inputsOf(layer);
        expectInputs(layer, ins, 1);
        if (cfg['activation'] !== 'relu') fail(layer, `activation ${String(cfg['activation'])} is not supported`);
        node('Relu', ins, name);
        channels.set(name, channels.get(ins[0]!)!);
        area.set(name, area.get(ins[0]!)!);
        break;
      }
      case 'Concatenate': {
        const ins = inputsOf(layer);
        expectInputs(layer, ins, 'many');
        const axis = cfg['axis'] as number;
        if (axis !== -1 && axis !== 3) fail(layer, `concatenation on axis ${axis} is not supported (only channels)`);
        if (new Set(ins.map((i) => area.get(i))).size !== 1) fail(layer, 'inputs have different resolutions');
        node('Concat', ins, name, { axis: 1 });
        channels.set(name, ins.reduce((s, i) => s + channels.get(i)!, 0));
        area.set(name, area.get(ins[0]!)!);
        break;
      }
      case 'Add': {
        const ins = inputsOf(layer);
        expectInputs(layer, ins, 'many');
        if (new Set(ins.map((i) => channels.get(i))).size !== 1) fail(layer, 'inputs have different channel counts');
        let acc = ins[0]!;
        for (let i = 1; i < ins.length; i++) {
          const out = i === ins.length - 1 ? name : `${name}.${i}`;
          node('Add', [acc, ins[i]!], out);
          acc = out;
        }
        channels.set(name, channels.get(ins[0]!)!);
        area.set(name, area.get(ins[0]!)!);
        break;
      }
      case 'UpSampling2D': {
        const ins = inputsOf(layer);
        expectInputs(layer, ins, 1);
        const [sh, sw] = cfg['size'] as [number, number];
        if ((cfg['interpolation'] ?? 'nearest') !== 'nearest') fail(layer, `interpolation ${String(cfg['interpolation'])} is not supported`);
        if (sh !== sw || !Number.isInteger(sh) || sh < 1) fail(layer, 'only equal integer factors are supported');
        node('Resize', [ins[0]!, '', init(`${name}.scales`, [4], new Float32Array([1, 1, sh, sw]))], name, { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' });
        channels.set(name, channels.get(ins[0]!)!);
        area.set(name, area.get(ins[0]!)! * sh * sw);
        break;
      }
      default:
        fail(layer, 'layer type is not supported');
    }
  }

  const unused = [...weights.keys()].filter((w) => !used.has(w));
  if (unused.length > 0) fail(undefined, `weights not used by any layer: ${unused.join(', ')}`);
  const outputs = [...channels.keys()].filter((v) => !consumed.has(v));
  if (outputs.length !== 1) fail(undefined, `model must have exactly one output, found ${outputs.length}: ${outputs.join(', ')}`);
  const last = outputs[0]!;
  if (channels.get(last) !== 3) fail(undefined, `output has ${channels.get(last)} channels, expected 3 (RGB)`);
  // The network's range -> [0, 1].
  node('Mul', [last, init('output.range', [], new Float32Array([1 / inputRange]))], ONNX_OUTPUT);

  const dims = (h: string, w: string) => [{ dimValue: 1 }, { dimValue: 3 }, { dimParam: h }, { dimParam: w }];
  const tensorType = (h: string, w: string) => onnx.TypeProto.create({ tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims(h, w) } } });
  // Keras is NHWC, ONNX Runtime's Conv is NCHW: the input and output are NCHW like every
  // ClearShot network, so no transposes are needed anywhere in the graph.
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'clearshot',
    producerVersion: '1',
    opsetImport: [{ domain: '', version: OPSET }],
    docString: `Converted from TensorFlow.js layers model ${modelName} by ClearShot`,
    graph: onnx.GraphProto.create({
      name: modelName,
      node: nodes,
      initializer: initializers,
      input: [onnx.ValueInfoProto.create({ name: ONNX_INPUT, type: tensorType('height', 'width') })],
      output: [onnx.ValueInfoProto.create({ name: ONNX_OUTPUT, type: tensorType('out_height', 'out_width') })],
    }),
  });
  return { bytes: onnx.ModelProto.encode(model).finish(), macsPerInputPixel, scale: Math.sqrt(area.get(last)!), layerCounts };
}
