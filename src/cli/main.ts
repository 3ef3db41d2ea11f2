import '../engine/models/ort-telemetry.js'; // first: ONNX Runtime telemetry off for this process and its workers
import { ConfigInvalid, loadConfig } from '../config/config.js';
import { ClearShotError, toClearShotError } from '../errors/index.js';

const HELP = `Usage: clearshot <command> [options]

Commands:
  enhance <files or folders...>   Enhance images locally (see: clearshot enhance --help)
  models prepare                  Convert and cache the models (done by npm install)
  keys create|list|disable|credits  Manage API keys and credits (see: clearshot keys --help)
  help                            Show this help

\`keys\` and \`enhance\` take --data-dir DIR (default: $DATA_DIR, else ./data).
The HTTP service starts with \`npm start\`.
`;

type Command = (argv: string[]) => Promise<number>;

function takeDataDir(args: readonly string[]): { dataDir: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let dataDir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--data-dir') {
      dataDir = args[++i];
      if (dataDir === undefined || dataDir === '') throw new ClearShotError('BAD_PARAMETER', 'expected a folder after --data-dir');
    } else if (a.startsWith('--data-dir=')) dataDir = a.slice('--data-dir='.length);
    else rest.push(a);
  }
  return { dataDir, rest };
}

/**
 * CLI entry: thin commands over the same modules as the service. Errors are mapped
 * to exit codes through the error registry only (errors/error-codes.ts).
 */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  try {
    // `keys` and `enhance` take --data-dir DIR (or --data-dir=DIR): DATA_DIR for this run.
    const { dataDir, rest } = name === 'keys' || name === 'enhance' ? takeDataDir(args) : { dataDir: undefined, rest: args };
    const config = loadConfig(dataDir === undefined ? process.env : { ...process.env, DATA_DIR: dataDir });
    // Each command's modules load when it runs: `enhance` does not wait for the key
    // store's database drivers (~0.3 s of every run on the 2-core VM), nor `keys` for
    // the engine's native modules.
    const commands: Record<string, Command> = {
      enhance: async (a) => (await import('./enhance-command.js')).runEnhance(a, config, process.stdout, process.stderr),
      models: async (a) => (await import('./models-command.js')).runModels(a, config, process.stdout),
      keys: async (a) => (await import('./keys-command.js')).runKeys(a, config, process.stdout, process.stderr),
    };
    if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
      process.stdout.write(HELP);
      return name === undefined ? 2 : 0;
    }
    const command = commands[name];
    if (!command) {
      process.stderr.write(`unknown command ${JSON.stringify(name)}\n\n${HELP}`);
      return 2;
    }
    return await command(rest);
  } catch (err) {
    if (err instanceof ConfigInvalid) {
      for (const problem of err.problems) process.stderr.write(`clearshot: ${problem}\n`);
      return err.spec.exit;
    }
    const e = toClearShotError(err);
    process.stderr.write(`clearshot: ${e.message} [${e.code}]\n`);
    return e.spec.exit;
  }
}
