import { defaultFormat, encodeImage } from '../image/encode.js';
import type { EnhanceContext, Step } from './context.js';

/** The output format (the request's, or the input's family), with ICC and EXIF kept. */
export const encodeStep: Step = {
  name: 'encode',
  async run(c: EnhanceContext) {
    const decoded = c.need('decoded');
    const format = c.options.format ?? defaultFormat(decoded.format, c.alpha !== undefined);
    c.encoded = await encodeImage({ color: c.need('finalColor'), alpha: c.alpha, icc: decoded.icc, exif: decoded.exif }, format);
    c.report(99);
  },
};
