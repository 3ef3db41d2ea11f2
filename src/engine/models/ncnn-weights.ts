import { ClearShotError } from '../../errors/index.js';
import { halvesToFloats } from '../../util/half.js';

/** ncnn's storage-type tags at the head of a flagged weight blob (ModelBin::load type 0). */
const TAG_FP16 = 0x01306b47;
const TAG_INT8 = 0x000d4b38;
const TAG_FP32_SCALED = 0x0002c056;

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Sequential reader over an ncnn `.bin` weight file.
 *
 * It mirrors ncnn's ModelBinFromDataReader: `flagged` blobs start with a 4-byte
 * storage tag (fp16, int8 or plain fp32), `raw` blobs are bare fp32. The converter
 * calls {@link assertFullyConsumed} at the end so that a param/bin mismatch (wrong
 * file pair, truncated download) can never yield a silently wrong model.
 */
export class NcnnWeightReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get position(): number {
    return this.offset;
  }

  /** Reads `count` weights preceded by a storage tag. */
  flagged(count: number, what: string): Float32Array {
    this.need(4, what);
    const tag = this.view.getUint32(this.offset, true);
    this.offset += 4;
    if (tag === TAG_FP16) {
      const size = align4(count * 2);
      this.need(size, what);
      const out = halvesToFloats(this.bytes, this.offset, count);
      this.offset += size;
      return out;
    }
    if (tag === 0 || tag === TAG_FP32_SCALED) return this.raw(count, what);
    if (tag === TAG_INT8) throw new ClearShotError('MODEL_CONVERSION', `${what}: int8-quantized ncnn weights are not supported`);
    throw new ClearShotError('MODEL_CONVERSION', `${what}: unsupported ncnn weight storage tag 0x${tag.toString(16).padStart(8, '0')}`);
  }

  /** Reads `count` bare little-endian fp32 values. */
  raw(count: number, what: string): Float32Array {
    const size = count * 4;
    this.need(size, what);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.view.getFloat32(this.offset + i * 4, true);
    this.offset += size;
    return out;
  }

  assertFullyConsumed(): void {
    if (this.offset !== this.bytes.byteLength) {
      throw new ClearShotError(
        'MODEL_CONVERSION',
        `ncnn weights: ${this.bytes.byteLength - this.offset} of ${this.bytes.byteLength} bytes were not consumed by the graph (param/bin mismatch)`,
      );
    }
  }

  private need(size: number, what: string): void {
    if (this.offset + size > this.bytes.byteLength) {
      throw new ClearShotError(
        'MODEL_CONVERSION',
        `ncnn weights: ${what} needs ${size} bytes at offset ${this.offset} but the file has ${this.bytes.byteLength} (truncated or mismatched .bin)`,
      );
    }
  }
}
