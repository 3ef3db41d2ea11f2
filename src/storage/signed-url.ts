import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Signed, expiring result URLs: `<base>/results/<name>?expires=<unix s>&signature=<hex>`
 * where the signature is HMAC-SHA256 over "<name>\n<expires>". Several secrets may be
 * configured: the first signs, all verify, so a secret can be rotated without breaking
 * URLs already handed out.
 */
export class UrlSigner {
  constructor(
    private readonly secrets: readonly string[],
    private readonly baseUrl: string,
  ) {
    if (secrets.length === 0) throw new Error('UrlSigner needs at least one secret');
  }

  private mac(secret: string, name: string, expires: number): string {
    return createHmac('sha256', secret).update(`${name}\n${expires}`).digest('hex');
  }

  /** Absolute URL for a result file, valid until `expiresAt` (epoch ms). */
  sign(name: string, expiresAt: number): string {
    const expires = Math.floor(expiresAt / 1000);
    return `${this.baseUrl}/results/${encodeURIComponent(name)}?expires=${expires}&signature=${this.mac(this.secrets[0]!, name, expires)}`;
  }

  /** 'ok', 'bad' (no valid signature) or 'expired' (valid but past its time). */
  verify(name: string, expires: string | undefined, signature: string | undefined, now = Date.now()): 'ok' | 'bad' | 'expired' {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(signature)) return 'bad';
    const given = Buffer.from(signature, 'hex');
    const valid = this.secrets.some((s) => timingSafeEqual(Buffer.from(this.mac(s, name, Number(expires)), 'hex'), given));
    if (!valid) return 'bad';
    return Number(expires) * 1000 <= now ? 'expired' : 'ok';
  }
}
