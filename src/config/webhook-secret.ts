/**
 * The format of a webhook secret (CLEARSHOT_WEBHOOK_SECRET): `whsec_` followed by base64
 * key bytes (the Standard Webhooks convention). Config validates the setting with it at
 * start; the webhook signer (src/webhooks/signature.ts) reads the key bytes with it.
 */
export const SECRET_PREFIX = 'whsec_';

/** The key bytes of a `whsec_...` secret; throws with a plain reason when malformed. */
export function secretKey(secret: string): Buffer {
  const text = secret.trim();
  if (!text.startsWith(SECRET_PREFIX)) throw new Error('expected whsec_ followed by base64');
  const b64 = text.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Error('expected whsec_ followed by base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length < 24 || key.length > 64) throw new Error(`the key must be 24 to 64 bytes, not ${key.length}`);
  return key;
}
