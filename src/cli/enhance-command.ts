import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import type { Config } from '../config/config.js';
import { engineSection } from '../config/sections.js';
import { EnginePool } from '../engine/engine-pool.js';
import { extensionOf, formatByName, INPUT_EXTENSIONS } from '../engine/image/formats.js';
import { parseFormatName, parsePrecisionText, parseScaleText, parseUnitText } from '../engine/job-fields.js';
import { ENHANCE_KINDS, MODEL_NAMES, type EnhanceJob, type EnhanceKind, type EnhanceResult, type InputAnalysis, type ModelName, type OutputFormat, type ScaleFactor } from '../engine/types.js';
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

const IMAGE_EXTENSIONS = new Set(INPUT_EXTENSIONS.map((e) => `.${e}`));

export interface EnhanceArgs {
  readonly inputs: string[];
  readonly out: string;
  /** The engine job for every input (its format may still come from the output name). */
  readonly job: EnhanceJob & { readonly model: ModelName; readonly kind: EnhanceKind };
  readonly verbose: boolean;
  readonly help: boolean;
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
  const scale: ScaleFactor | undefined = parseScaleText('--scale', values.scale, 'word');
  const model = (values.model ?? defaultModel) as ModelName;
  if (!MODEL_NAMES.includes(model)) throw badArgument('--model', MODEL_NAMES.join(' or '), values.model);
  const fixFaceOnly = values['fix-face-only'] ?? false;
  const kind = (values.type ?? (fixFaceOnly ? 'face' : 'clean')) as EnhanceKind;
  if (!ENHANCE_KINDS.includes(kind)) throw badArgument('--type', ENHANCE_KINDS.join(' or '), values.type);
  const strength = parseUnitText('--strength', values.strength, true);
  const faceStrength = parseUnitText('--face-strength', values['face-strength'], false);
  const format: OutputFormat | undefined = parseFormatName('--format', values.format);
  const precision = parsePrecisionText('--precision', values.precision);
  const help = values.help ?? false;
  if (!help && positionals.length === 0) throw new ClearShotError('BAD_PARAMETER', 'expected at least one file or folder (see --help)');
  const job = { kind: fixFaceOnly ? 'face' : kind, scale, model, format, strength, faceStrength, fixFaceOnly, ...(precision ? { precision } : {}) } as const;
  return { inputs: positionals, out: values.out ?? 'enhanced', job, verbose: values.verbose ?? false, help };
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
  let name = `${stem}.${extensionOf(format)}`;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}.${extensionOf(format)}`;
  used.add(name);
  return join(dir, name);
}

/** One line: what the engine measured and what it chose. */
export function describeAnalysis(a: InputAnalysis, r: EnhanceResult['restoration']): string {
  const q = a.jpegQuality === undefined ? 'none' : `${a.jpegQuality} (${a.jpegQualitySource === 'tables' ? 'from the quantization tables' : 'estimated from blocking'})`;
  return `analysis: JPEG quality ${q}, noise ${a.noise}, sharpness ${a.sharpness}, blocking ${a.blocking}; degradation ${r.degradation} -> strength ${r.strength}${r.auto ? ' (auto)' : ''}, network ${r.network}${r.network === 'restore-1x' ? '' : `, pre-downscale ${r.preDownscale}`}`;
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
  const namedFormat = items.length === 1 && extname(args.out) ? formatByName(extname(args.out).slice(1)) : undefined;
  const format = args.job.format ?? namedFormat;
  if (!namedFormat) await mkdir(args.out, { recursive: true });

  const pool = await EnginePool.start({
    ...engineSection(config),
    concurrency: 1,
    preload: [args.job.model],
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
        const result = await pool.enhance(bytes, { ...args.job, format, onProgress: (p) => view.update(p) });
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

