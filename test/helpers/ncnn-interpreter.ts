import { arrayParam, intParam, parseNcnnParam } from '../../src/engine/models/ncnn-param.js';
import { NcnnWeightReader } from '../../src/engine/models/ncnn-weights.js';

/**
 * A deliberately naive fp32 interpreter of ncnn graphs: direct loops, no ONNX, no
 * ONNX Runtime, none of the converter's rewrites (PReLU lowering, coefficient
 * folding). It is the independent reference the converter is tested against; it is
 * slow (about 1 GFLOP/s) and only meant for tiny fixtures.
 */
interface Blob {
  c: number;
  h: number;
  w: number;
  data: Float32Array;
}

function conv(x: Blob, weight: Float32Array, bias: Float32Array | undefined, out: number, k: number, pad: number): Blob {
  const { c, h, w } = x;
  const y: Blob = { c: out, h, w, data: new Float32Array(out * h * w) };
  for (let o = 0; o < out; o++) {
    const plane = y.data.subarray(o * h * w, (o + 1) * h * w);
    plane.fill(bias ? bias[o]! : 0);
    for (let i = 0; i < c; i++) {
      const src = x.data.subarray(i * h * w, (i + 1) * h * w);
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          const wv = weight[((o * c + i) * k + ky) * k + kx]!;
          const dy = ky - pad;
          const dx = kx - pad;
          for (let yy = Math.max(0, -dy); yy < Math.min(h, h - dy); yy++) {
            const so = (yy + dy) * w + dx;
            const po = yy * w;
            for (let xx = Math.max(0, -dx); xx < Math.min(w, w - dx); xx++) plane[po + xx]! += wv * src[so + xx]!;
          }
        }
      }
    }
  }
  return y;
}

export function interpretNcnn(paramText: string, bin: Uint8Array, input: Blob): Blob {
  const graph = parseNcnnParam(paramText);
  const reader = new NcnnWeightReader(bin);
  const blobs = new Map<string, Blob>();
  const get = (name: string) => {
    const b = blobs.get(name);
    if (!b) throw new Error(`missing blob ${name}`);
    return b;
  };
  let last: Blob = input;
  for (const layer of graph.layers) {
    const t = layer.tops[0]!;
    switch (layer.type) {
      case 'Input':
        blobs.set(t, input);
        break;
      case 'Split':
        for (const top of layer.tops) blobs.set(top, get(layer.bottoms[0]!));
        break;
      case 'Convolution': {
        const out = intParam(layer, 0, 0);
        const k = intParam(layer, 1, 0);
        const weight = reader.flagged(intParam(layer, 6, 0), layer.name);
        const bias = intParam(layer, 5, 0) ? reader.raw(out, layer.name) : undefined;
        const y = conv(get(layer.bottoms[0]!), weight, bias, out, k, intParam(layer, 4, 0));
        const act = intParam(layer, 9, 0);
        const slope = arrayParam(layer, 10)[0] ?? 0;
        if (act === 1 || act === 2) for (let i = 0; i < y.data.length; i++) if (y.data[i]! < 0) y.data[i]! *= act === 1 ? 0 : slope;
        blobs.set(t, y);
        break;
      }
      case 'PReLU': {
        const x = get(layer.bottoms[0]!);
        const slopes = reader.raw(intParam(layer, 0, 0), layer.name);
        const y = { ...x, data: new Float32Array(x.data) };
        const hw = x.h * x.w;
        for (let i = 0; i < y.data.length; i++) if (y.data[i]! < 0) y.data[i]! *= slopes[slopes.length === 1 ? 0 : Math.floor(i / hw)]!;
        blobs.set(t, y);
        break;
      }
      case 'Concat': {
        const parts = layer.bottoms.map(get);
        const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
        let at = 0;
        for (const p of parts) {
          data.set(p.data, at);
          at += p.data.length;
        }
        blobs.set(t, { c: parts.reduce((n, p) => n + p.c, 0), h: parts[0]!.h, w: parts[0]!.w, data });
        break;
      }
      case 'Eltwise': {
        const parts = layer.bottoms.map(get);
        const coeffs = arrayParam(layer, 1);
        const data = new Float32Array(parts[0]!.data.length);
        parts.forEach((p, n) => {
          const k = coeffs[n] ?? 1;
          for (let i = 0; i < data.length; i++) data[i]! += k * p.data[i]!;
        });
        blobs.set(t, { ...parts[0]!, data });
        break;
      }
      case 'BinaryOp': {
        const [a, b] = layer.bottoms.map(get) as [Blob, Blob];
        blobs.set(t, { ...a, data: a.data.map((v, i) => v + b.data[i]!) });
        break;
      }
      case 'Interp': {
        const x = get(layer.bottoms[0]!);
        const s = intParam(layer, 1, 1);
        const y: Blob = { c: x.c, h: x.h * s, w: x.w * s, data: new Float32Array(x.c * x.h * s * x.w * s) };
        for (let c = 0; c < x.c; c++)
          for (let yy = 0; yy < y.h; yy++)
            for (let xx = 0; xx < y.w; xx++) y.data[(c * y.h + yy) * y.w + xx] = x.data[(c * x.h + Math.floor(yy / s)) * x.w + Math.floor(xx / s)]!;
        blobs.set(t, y);
        break;
      }
      case 'PixelShuffle': {
        const x = get(layer.bottoms[0]!);
        const r = intParam(layer, 0, 1);
        const oc = x.c / (r * r);
        const y: Blob = { c: oc, h: x.h * r, w: x.w * r, data: new Float32Array(x.data.length) };
        for (let c = 0; c < oc; c++)
          for (let yy = 0; yy < y.h; yy++)
            for (let xx = 0; xx < y.w; xx++) {
              const ic = c * r * r + (yy % r) * r + (xx % r);
              y.data[(c * y.h + yy) * y.w + xx] = x.data[(ic * x.h + Math.floor(yy / r)) * x.w + Math.floor(xx / r)]!;
            }
        blobs.set(t, y);
        break;
      }
      default:
        throw new Error(`reference interpreter does not know ${layer.type}`);
    }
    last = blobs.get(t)!;
  }
  reader.assertFullyConsumed();
  return last;
}
