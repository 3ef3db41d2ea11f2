import '../engine/models/ort-telemetry.js'; // first: ONNX Runtime telemetry off for this process and its workers
import { loadConfig } from '../config/config.js';
import { toClearShotError } from '../errors/index.js';
import { runEnhance } from './enhance-command.js';
import { runKeys } from './keys-command.js';
import { runModels } from './models-command.js';

const HELP = `Usage: clearshot <command> [options]

Commands:
  enhance <files or folders...>   Enhance images locally (see: clearshot enhance --help)
  models prepare                  Convert and cache the models (done by npm install)
  keys create|list|disable|credits  Manage API keys and credits (see: clearshot keys --help)
  help                            Show this help

The HTTP service starts with \`npm start\`.
`;

type Command = (argv: string[]) => Promise<number>;

/**
 * CLI entry: thin commands over the same modules as the service. Errors are mapped
 * to exit codes through the error registry only (STYLE.md, habit 2).
 */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    const config = loadConfig();
    const commands: Record<string, Command> = {
      enhance: (a) => runEnhance(a, config, process.stdout, process.stderr),
      models: (a) => runModels(a, config, process.stdout),
      keys: (a) => runKeys(a, config, process.stdout, process.stderr),
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
    const e = toClearShotError(err);
    process.stderr.write(`clearshot: ${e.message} [${e.code}]\n`);
    return e.spec.exit;
  }
}
