import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { EnginePool } from '../engine/engine-pool.js';
import { MODEL_NAMES, type EnhanceKind, type EnhanceResult, type InputAnalysis, type ModelName, type OutputFormat, type ScaleFactor } from '../engine/types.js';
import { ClearShotError, ERROR_CODES, badArgument, toClearShotError } from '../errors/index.js';
import { parseOptions } from './args.js';
import { createProgressView } from './progress.js';

export const ENHANCE_HELP = `Usage: clearshot enhance <files or folders...> [options]

Enhances images with Real-ESRGAN on this machine. Folders are read one level deep
(files ending in .jpg .jpeg .jfif .png .webp .tif .tiff .bmp .rgb .sgi .gif); files
named explicitly are always tried, whatever their extension.

Options:
  -o, --out PATH        Output folder (default: ./enhanced). With a single input
                        file, PATH may be a file name ending in .jpg/.png/.webp/.tif.
  -s, --scale N         1, 2 or 4; "auto" (default) follows the long edge:
                        <=512 px -> 4x, <=1024 px -> 2x, larger -> 1x.
  -m, --model NAME      fast (default) or quality (about 15x slower).
  -t, --type TYPE       clean (default) or face: also restore up to 10 faces.
  --strength S          Weight of the network's output: 0 (the input, classically
                        resized) to 1 (the network's output as is); "auto"
                        (default) chooses it from the input's measured JPEG
                        quality, noise and sharpness.
  --face-strength S     type face: weight of the restored faces, 0-1 (default:
                        CLEARSHOT_FACE_STRENGTH).
  --fix-face-only       Restore the faces only (implies --type face): outside the
                        faces the output is the input, classically resized.
  --precision P         fast network precision: auto (default: CLEARSHOT_PRECISION),
                        fp32 or int8 (README, "int8").
  -v, --verbose         Also print what was measured on each input.
  -f, --format FMT      jpg, png, webp or tif (default: the extension of a named
                        output file, else the input's family; images with alpha
                        never default to jpg).
  -h, --help            Show this help.

Environment: DATA_DIR (model cache), CLEARSHOT_THREADS, CLEARSHOT_EXECUTION_PROVIDER.
Exit status: 0 when every file succeeded; otherwise the code of the first failure
(2 usage, 3 invalid image, 4 image too large/small, 8 cancelled, 10 model failure).
`;

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.jfif', '.png', '.webp', '.tif', '.tiff', '.bmp', '.rgb', '.sgi', '.gif']);
const FORMAT_BY_NAME: Readonly<Record<string, OutputFormat>> = { jpg: 'jpeg', jpeg: 'jpeg', png: 'png', webp: 'webp', tif: 'tiff', tiff: 'tiff' };
const EXTENSION_BY_FORMAT: Readonly<Record<OutputFormat, string>> = { jpeg: '.jpg', png: '.png', webp: '.webp', tiff: '.tif' };

export interface EnhanceArgs {
  readonly inputs: string[];
  readonly out: string;
  readonly scale: ScaleFactor | undefined;
  readonly model: ModelName;
  readonly kind: EnhanceKind;
  readonly format: OutputFormat | undefined;
  readonly strength: number | undefined;
  readonly faceStrength: number | undefined;
  readonly fixFaceOnly: boolean;
  readonly precision: 'auto' | 'fp32' | 'int8' | undefined;
  readonly verbose: boolean;
  readonly help: boolean;
}

function unit(name: string, raw: string | undefined, allowAuto: boolean): number | undefined {
  if (raw === undefined || (allowAuto && raw === 'auto')) return undefined;
  const n = Number(raw);
  if (raw.trim() === '' || !(n >= 0 && n <= 1)) throw badArgument(name, allowAuto ? 'a number from 0 to 1 or auto' : 'a number from 0 to 1', raw);
  return n;
}

export function parseEnhanceArgs(argv: string[], defaultModel: ModelName = 'fast'): EnhanceArgs {
  const { values, positionals } = parseOptions({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      scale: { type: 'string', short: 's' },
      model: { type: 'string', short: 'm' },
      type: { type: 'string', short: 't' },
      format: { type: 'string', short: 'f' },
      strength: { type: 'string' },
      'face-strength': { type: 'string' },
      'fix-face-only': { type: 'boolean' },
      precision: { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  let scale: ScaleFactor | undefined;
  if (values.scale !== undefined && values.scale !== 'auto') {
    if (!['1', '2', '4'].includes(values.scale)) throw badArgument('--scale', '1, 2, 4 or auto', values.scale);
    scale = Number(values.scale) as ScaleFactor;
  }
  const model = (values.model ?? defaultModel) as ModelName;
  if (!MODEL_NAMES.includes(model)) throw badArgument('--model', MODEL_NAMES.join(' or '), values.model);
  const fixFaceOnly = values['fix-face-only'] ?? false;
  const kind = (values.type ?? (fixFaceOnly ? 'face' : 'clean')) as EnhanceKind;
  if (kind !== 'clean' && kind !== 'face') throw badArgument('--type', 'clean or face', values.type);
  const strength = unit('--strength', values.strength, true);
  const faceStrength = unit('--face-strength', values['face-strength'], false);
  let format: OutputFormat | undefined;
  if (values.format !== undefined) {
    format = FORMAT_BY_NAME[values.format.toLowerCase()];
    if (!format) throw badArgument('--format', 'jpg, png, webp or tif', values.format);
  }
  const precision = values.precision as EnhanceArgs['precision'];
  if (precision !== undefined && !['auto', 'fp32', 'int8'].includes(precision)) throw badArgument('--precision', 'auto, fp32 or int8', values.precision);
  const help = values.help ?? false;
  if (!help && positionals.length === 0) throw new ClearShotError('BAD_PARAMETER', 'expected at least one file or folder (see --help)');
  return { inputs: positionals, out: values.out ?? 'enhanced', scale, model, kind: fixFaceOnly ? 'face' : kind, format, strength, faceStrength, fixFaceOnly, precision, verbose: values.verbose ?? false, help };
}

interface Item {
  readonly path: string;
  readonly error?: ClearShotError;
}

async function collect(inputs: readonly string[]): Promise<Item[]> {
  const items: Item[] = [];
  for (const input of inputs) {
    let info;
    try {
      info = await stat(input);
    } catch {
      items.push({ path: input, error: new ClearShotError('NOT_FOUND', 'no such file or folder') });
      continue;
    }
    if (info.isDirectory()) {
      const names = (await readdir(input, { withFileTypes: true }))
        .filter((d) => d.isFile() && IMAGE_EXTENSIONS.has(extname(d.name).toLowerCase()))
        .map((d) => d.name)
        .sort();
      for (const name of names) items.push({ path: join(input, name) });
    } else {
      items.push({ path: input });
    }
  }
  return items;
}

function outputPath(dir: string, item: string, format: OutputFormat, used: Set<string>): string {
  const stem = basename(item, extname(item));
  let name = `${stem}${EXTENSION_BY_FORMAT[format]}`;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}${EXTENSION_BY_FORMAT[format]}`;
  used.add(name);
  return join(dir, name);
}

/** One line: what the engine measured and what it chose. */
export function describeAnalysis(a: InputAnalysis, r: EnhanceResult['restoration']): string {
  const q = a.jpegQuality === undefined ? 'none' : `${a.jpegQuality} (${a.jpegQualitySource === 'tables' ? 'from the quantization tables' : 'estimated from blocking'})`;
  return `analysis: JPEG quality ${q}, noise ${a.noise}, sharpness ${a.sharpness}, blocking ${a.blocking}; degradation ${r.degradation} -> strength ${r.strength}${r.auto ? ' (auto)' : ''}, pre-downscale ${r.preDownscale}`;
}

/** Runs the command; returns the process exit code. */
export async function runEnhance(argv: string[], config: Config, stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream): Promise<number> {
  const args = parseEnhanceArgs(argv, config.defaultModel);
  if (args.help) {
    stdout.write(ENHANCE_HELP);
    return 0;
  }
  const items = await collect(args.inputs);
  if (items.length === 0) {
    stderr.write('no images found in the given folders\n');
    return ERROR_CODES.NOT_FOUND.exit;
  }
  // A single input with an output name like "x.webp": write that file, in that format.
  const namedFormat = items.length === 1 ? FORMAT_BY_NAME[extname(args.out).slice(1).toLowerCase()] : undefined;
  const format = args.format ?? namedFormat;
  if (!namedFormat) await mkdir(args.out, { recursive: true });

  const pool = await EnginePool.start({
    dataDir: config.dataPath,
    threads: config.threads,
    provider: config.provider,
    modelSourceDir: config.modelDir,
    concurrency: 1,
    preload: [args.model],
    face: { strength: config.faceStrength, model: config.faceModel },
    tuning: { maxNetPixels: config.maxNetMegapixels * 1e6 },
    precision: { setting: args.precision ?? config.precision, minPsnr: config.int8MinPsnr, assumeNoVnni: config.int8AssumeNoVnni },
    log: (line) => stderr.write(`${line}\n`),
  });
  const view = createProgressView(stdout);
  const used = new Set<string>();
  let firstFailure: ClearShotError | undefined;
  let ok = 0;
  try {
    for (const item of items) {
      const started = Date.now();
      try {
        if (item.error) throw item.error;
        view.start(item.path);
        const bytes = await readFile(item.path);
        const result = await pool.enhance(bytes, {
          kind: args.kind,
          scale: args.scale,
          model: args.model,
          format,
          strength: args.strength,
          faceStrength: args.faceStrength,
          fixFaceOnly: args.fixFaceOnly,
          onProgress: (p) => view.update(p),
        });
        const target = namedFormat ? args.out : outputPath(args.out, item.path, result.format, used);
        await writeFile(target, result.data);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        const strength = `strength ${result.restoration.strength}${result.restoration.auto ? ' (auto)' : ''}`;
        const notes = ` (${[strength, ...result.notes].join('; ')})`;
        view.done(`ok   ${item.path}: ${result.inputWidth}x${result.inputHeight} -> ${result.width}x${result.height} (x${result.scale}, ${result.model}) in ${seconds}s -> ${target}${notes}`);
        if (args.verbose) stdout.write(`     ${describeAnalysis(result.analysis, result.restoration)}\n`);
        ok++;
      } catch (err) {
        const e = toClearShotError(err);
        firstFailure ??= e;
        view.done(`FAIL ${item.path}: ${e.message} [${e.code}]`);
      }
    }
  } finally {
    await pool.close();
  }
  const failed = items.length - ok;
  stdout.write(`${ok} succeeded, ${failed} failed\n`);
  return firstFailure ? firstFailure.spec.exit : 0;
}

