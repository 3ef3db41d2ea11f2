import type { OutputFormat } from '../types.js';

/**
 * The one registry of output formats: the name the engine uses, the file extension
 * results get, the MIME type served, the spellings clients may send (API `format`,
 * CLI `--format`, an output file name) and what the format can carry. Every layer that
 * names, serves or stores a format reads it here.
 */
export interface FormatEntry {
  readonly format: OutputFormat;
  /** As written in messages. */
  readonly label: string;
  /** Extension of result files, without the dot. */
  readonly extension: string;
  readonly contentType: string;
  /** Names accepted for it (lower case; the first is the canonical one shown in messages). */
  readonly aliases: readonly string[];
  readonly alpha: boolean;
  /** Keeps 16 bits per channel. */
  readonly depth16: boolean;
  /** EXIF (capture date, camera, orientation) is written. */
  readonly exif: boolean;
}

export const FORMATS: Readonly<Record<OutputFormat, FormatEntry>> = {
  jpeg: { format: 'jpeg', label: 'JPEG', extension: 'jpg', contentType: 'image/jpeg', aliases: ['jpg', 'jpeg'], alpha: false, depth16: false, exif: true },
  png: { format: 'png', label: 'PNG', extension: 'png', contentType: 'image/png', aliases: ['png'], alpha: true, depth16: true, exif: true },
  webp: { format: 'webp', label: 'WebP', extension: 'webp', contentType: 'image/webp', aliases: ['webp'], alpha: true, depth16: false, exif: true },
  tiff: { format: 'tiff', label: 'TIFF', extension: 'tif', contentType: 'image/tiff', aliases: ['tiff', 'tif'], alpha: true, depth16: true, exif: false },
};

export const OUTPUT_FORMATS = Object.keys(FORMATS) as readonly OutputFormat[];

/** "jpg, png, webp or tiff": the canonical names, for messages. */
export const FORMAT_CHOICES = `${OUTPUT_FORMATS.slice(0, -1)
  .map((f) => FORMATS[f].aliases[0])
  .join(', ')} or ${FORMATS[OUTPUT_FORMATS[OUTPUT_FORMATS.length - 1]!].aliases[0]}`;

/** The format a client's name (`jpg`, `TIFF`, `webp` ...) stands for; undefined when none. */
export function formatByName(name: string): OutputFormat | undefined {
  const n = name.toLowerCase();
  return OUTPUT_FORMATS.find((f) => FORMATS[f].aliases.includes(n));
}

/** The output format of a result file's extension (exact, as results are named). */
export function formatByExtension(extension: string): OutputFormat | undefined {
  return OUTPUT_FORMATS.find((f) => FORMATS[f].extension === extension);
}

/** Extensions of the files the engine reads (the CLI's directory walk), decode-only formats included. */
export const INPUT_EXTENSIONS: readonly string[] = ['jpg', 'jpeg', 'jfif', 'png', 'webp', 'tif', 'tiff', 'bmp', 'rgb', 'sgi', 'gif'];

export function contentTypeOf(format: OutputFormat): string {
  return FORMATS[format].contentType;
}

export function extensionOf(format: OutputFormat): string {
  return FORMATS[format].extension;
}
