import { openStore } from '../app/adapters.js';
import { parseOptions } from './args.js';
import type { Config } from '../config/config.js';
import { ClearShotError, badArgument } from '../errors/index.js';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KeyService, type ExportedKey } from '../keys/key-service.js';

export const KEYS_HELP = `Usage: clearshot keys <command> [--data-dir DIR] [--create]

  create [--name NAME] [--credits N]   Create a key; prints it once on stdout (details on stderr)
  list                                 List keys (id, name, credits, held, state)
  disable KEY_OR_ID                    Disable a key (its requests get 401)
  credits KEY_OR_ID +N|-N              Add (or remove) credits
  export                               Write every key (hashed) and balance as JSON lines to stdout
  import FILE                          Add keys from an export into this store (migration)

Keys live in the service's database: $DATA_DIR/clearshot.db, or DATABASE_URL when set.
  --data-dir DIR   the server's DATA_DIR (default: $DATA_DIR, else ./data)
  --create         start a new SQLite database if there is none (otherwise refused,
                   so that keys never land in a database the server does not read)
`;

/**
 * Opens the key service over the configured store (SQLite or DATABASE_URL), runs `fn`,
 * closes it. A missing SQLite database is refused unless `create`: run from the wrong
 * folder, the command would otherwise make a fresh, empty one the server never reads.
 */
async function withKeys<T>(config: Config, fn: (keys: KeyService) => Promise<T>, create = false): Promise<T> {
  const file = join(config.dataPath, 'clearshot.db');
  if (!config.databaseUrl && !create && !existsSync(file)) {
    throw new ClearShotError(
      'NOT_FOUND',
      `no database at ${file}: point DATA_DIR (or --data-dir) at the server's data directory, set DATABASE_URL, or pass --create to start a new database there`,
    );
  }
  const store = await openStore(config);
  try {
    return await fn(new KeyService(store));
  } finally {
    await store.close();
  }
}

export async function runKeys(argv: string[], config: Config, stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream): Promise<number> {
  const create = argv.includes('--create');
  const [command, ...rest] = argv.filter((a) => a !== '--create');
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    stdout.write(KEYS_HELP);
    return command === undefined ? 2 : 0;
  }
  switch (command) {
    case 'create': {
      const { values } = parseOptions({ args: rest, options: { name: { type: 'string' }, credits: { type: 'string' } } });
      const credits = values.credits === undefined ? 0 : Number(values.credits);
      if (!Number.isInteger(credits) || credits < 0) throw badArgument('--credits', 'a non-negative integer', values.credits);
      const { key, record } = await withKeys(config, (keys) => keys.create(values.name ?? 'unnamed', credits), create);
      stdout.write(`${key}\n`);
      stderr.write(`created ${record.id} "${record.name}" with ${record.credits} credits; the key above is shown only once\n`);
      return 0;
    }
    case 'list': {
      const list = await withKeys(config, (keys) => keys.list(), create);
      stdout.write(`${['id', 'name', 'credits', 'held', 'state', 'created'].join('\t')}\n`);
      for (const k of list) {
        stdout.write(`${[k.id, k.name, k.credits, k.held, k.disabled ? 'disabled' : 'active', new Date(k.createdAt).toISOString()].join('\t')}\n`);
      }
      return 0;
    }
    case 'disable': {
      if (!rest[0]) throw new ClearShotError('BAD_PARAMETER', 'expected KEY_OR_ID (see: clearshot keys --help)');
      const k = await withKeys(config, (keys) => keys.disable(rest[0]!), create);
      stdout.write(`disabled ${k.id} "${k.name}"\n`);
      return 0;
    }
    case 'credits': {
      const [target, amount] = rest;
      if (!target || !amount || !/^[+-]?\d+$/.test(amount)) throw badArgument('credits', 'KEY_OR_ID followed by +N or -N', rest.join(' '));
      const k = await withKeys(config, (keys) => keys.addCredits(target, Number(amount)), create);
      stdout.write(`${k.id} "${k.name}" now has ${k.credits} credits (${k.held} held by open tasks)\n`);
      return 0;
    }
    case 'export': {
      const all = await withKeys(config, (keys) => keys.exportAll(), create);
      for (const k of all) stdout.write(`${JSON.stringify(k)}\n`);
      const held = all.filter((k) => k.held > 0);
      if (held.length) stderr.write(`warning: ${held.length} key(s) have credits held by open tasks; drain the service before migrating\n`);
      stderr.write(`exported ${all.length} key(s)\n`);
      return 0;
    }
    case 'import': {
      if (!rest[0]) throw new ClearShotError('BAD_PARAMETER', 'expected the FILE written by `keys export`');
      const lines = (await readFile(rest[0], 'utf8')).split('\n').filter((l) => l.trim() !== '');
      let parsed: ExportedKey[];
      try {
        parsed = lines.map((l) => JSON.parse(l) as ExportedKey);
      } catch {
        throw new ClearShotError('BAD_PARAMETER', `${rest[0]} is not a keys export (one JSON object per line)`);
      }
      const added = await withKeys(config, (keys) => keys.importAll(parsed), create);
      stdout.write(`imported ${added} key(s), ${parsed.length - added} already present\n`);
      return 0;
    }
    default:
      stderr.write(`unknown keys command ${JSON.stringify(command)}\n\n${KEYS_HELP}`);
      return 2;
  }
}
