import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ClearShotError } from '../errors/index.js';
import type { ApiKey, KeyStore } from './key-store.js';

/** A key as `keys export` writes it, one JSON object per line. */
export interface ExportedKey {
  readonly id: string;
  readonly name: string;
  readonly hash: string;
  readonly credits: number;
  readonly held: number;
  readonly disabled: boolean;
  readonly createdAt: number;
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniform base62 text (rejection sampling: bytes >= 248 are skipped to avoid modulo bias). */
function randomText(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= 248) continue;
      out += ALPHABET[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** SHA-256 hex of a plain key: keys are high-entropy secrets, so no salt is needed. */
export function hashKey(plain: string): string {
  return createHash('sha256').update(plain, 'utf8').digest('hex');
}

/**
 * API keys: creation (shown once), authentication, credits. Plain keys are never
 * stored; a lookup is by hash, then compared in constant time.
 */
export class KeyService {
  constructor(private readonly store: KeyStore) {}

  /** Creates a key; the returned `key` is the only time the plain text exists. */
  async create(name: string, credits: number): Promise<{ key: string; record: ApiKey }> {
    const key = `cs_${randomText(32)}`;
    const record = await this.store.createKey({ id: `key_${randomText(10)}`, name, hash: hashKey(key), credits, createdAt: Date.now() });
    return { key, record };
  }

  /** The key behind an X-API-KEY header; UNAUTHORIZED if missing, unknown or disabled. */
  async authenticate(header: string | undefined): Promise<ApiKey> {
    if (!header) throw new ClearShotError('UNAUTHORIZED', 'missing X-API-KEY header');
    const hash = hashKey(header);
    const found = await this.store.findByHash(hash);
    const ok = found !== undefined && timingSafeEqual(Buffer.from(found.hash, 'hex'), Buffer.from(hash, 'hex'));
    if (!ok || !found) throw new ClearShotError('UNAUTHORIZED', 'invalid X-API-KEY');
    if (found.disabled) throw new ClearShotError('UNAUTHORIZED', 'this API key is disabled');
    const { hash: _h, ...key } = found;
    return key;
  }

  /** Finds a key by its id (key_...) or by the plain key. */
  async resolve(keyOrId: string): Promise<ApiKey | undefined> {
    if (keyOrId.startsWith('key_')) return this.store.findById(keyOrId);
    const found = await this.store.findByHash(hashKey(keyOrId));
    if (!found) return undefined;
    const { hash: _h, ...key } = found;
    return key;
  }

  /**
   * Makes sure a given plain key exists (CLEARSHOT_BOOTSTRAP_KEY). Credits apply only
   * when the key is first created, so a restart never refills a balance.
   */
  async ensure(plain: string, credits: number, name = 'bootstrap'): Promise<ApiKey> {
    const existing = await this.resolve(plain);
    if (existing) return existing;
    try {
      return await this.store.createKey({ id: `key_${randomText(10)}`, name, hash: hashKey(plain), credits, createdAt: Date.now() });
    } catch (err) {
      // Another process created it first.
      const again = await this.resolve(plain);
      if (again) return again;
      throw err;
    }
  }

  list(): Promise<ApiKey[]> {
    return this.store.listKeys();
  }

  async disable(keyOrId: string): Promise<ApiKey> {
    const key = await this.resolve(keyOrId);
    if (!key) throw new ClearShotError('NOT_FOUND', 'no such API key');
    return (await this.store.setDisabled(key.id, true))!;
  }

  /** Every key as a JSON-safe record with its hash (never the plain key, which is not stored). */
  async exportAll(): Promise<ExportedKey[]> {
    return (await this.store.exportKeys()).map((k) => ({ id: k.id, name: k.name, hash: k.hash, credits: k.credits, held: k.held, disabled: k.disabled, createdAt: k.createdAt }));
  }

  /** Imports keys exported from another store; existing ids are left alone. Returns how many were added. */
  async importAll(keys: readonly ExportedKey[]): Promise<number> {
    let added = 0;
    for (const k of keys) {
      if (await this.store.findById(k.id)) continue;
      await this.store.createKey({ id: k.id, name: k.name, hash: k.hash, credits: k.credits, createdAt: k.createdAt });
      if (k.disabled) await this.store.setDisabled(k.id, true);
      added++;
    }
    return added;
  }

  async addCredits(keyOrId: string, delta: number): Promise<ApiKey> {
    const key = await this.resolve(keyOrId);
    if (!key) throw new ClearShotError('NOT_FOUND', 'no such API key');
    const updated = await this.store.addCredits(key.id, delta, delta >= 0 ? 'grant' : 'adjust');
    if (!updated) throw new ClearShotError('BAD_PARAMETER', `cannot remove ${-delta} credits: the key has ${key.credits} of which ${key.held} are held by open tasks`);
    return updated;
  }
}
