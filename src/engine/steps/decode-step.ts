import { decodeImage } from '../image/decode.js';
import { grayToRgb } from '../image/raster.js';
import { checkOutput, resolveScale } from '../scale-rules.js';
import { DECODE_END, type EnhanceContext, type Step } from './context.js';

/** Bytes -> upright raster (+ alpha, ICC, EXIF); the target scale and its limits. */
export const decodeStep: Step = {
  name: 'decode',
  async run(c: EnhanceContext) {
    c.report(0);
    const decoded = await decodeImage(c.bytes, { keepGps: c.options.keepGps });
    c.decoded = decoded;
    c.scale = resolveScale(c.options.scale, decoded.width, decoded.height);
    checkOutput(decoded.width, decoded.height, c.scale);
    c.rgb = decoded.color.channels === 1 ? grayToRgb(decoded.color) : decoded.color;
    c.notes.push(...decoded.notes);
    c.report(DECODE_END / 2);
  },
};
