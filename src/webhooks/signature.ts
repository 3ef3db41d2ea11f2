import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SECRET_PREFIX, secretKey } from '../config/webhook-secret.js';

/**
 * Webhook signatures in the Standard Webhooks convention: headers `webhook-id`,
 * `webhook-timestamp` (Unix seconds) and `webhook-signature`, the latter
 * `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per secret, space-separated
 * (rotation: a receiver accepts any signature made with a secret it knows). Secrets
 * are `whsec_` followed by base64 key bytes (their format: src/config/webhook-secret.ts).
 */
export { SECRET_PREFIX, secretKey };

export function sign(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function signatureHeaders(keys: readonly Buffer[], id: string, timestamp: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': keys.map((k) => sign(k, id, timestamp, body)).join(' '),
  };
}

/** When CLEARSHOT_WEBHOOK_SECRET is unset: one random secret, created once and kept in a file. */
export async function loadOrCreateWebhookSecret(path: string): Promise<string> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    secretKey(text);
    return text;
  } catch {
    // first start (or an unreadable file: replaced below only if absent)
  }
  const secret = `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${secret}\n`, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
  // Another process may have won the race: use whatever is on disk.
  const text = (await readFile(path, 'utf8')).trim();
  secretKey(text);
  return text;
}
