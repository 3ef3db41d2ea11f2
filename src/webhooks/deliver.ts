import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ClearShotError } from '../errors/index.js';
import { checkCallbackSyntax, resolveCallback, type CallbackGuard } from './callback-url.js';

/**
 * One delivery attempt: POST the body to the callback URL, connected to the address
 * that passed the guard (no DNS rebinding), redirects not followed, one deadline for
 * the whole exchange. Success is any 2xx answer.
 */
export type AttemptResult =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly kind: 'http_error' | 'network_error' | 'forbidden' | 'timeout'; readonly status?: number; readonly error: string };

export async function postWebhook(rawUrl: string, body: string, headers: Record<string, string>, options: CallbackGuard & { timeoutMs: number; signal?: AbortSignal }): Promise<AttemptResult> {
  let pinned: { address: string; family: number };
  let url: URL;
  try {
    url = checkCallbackSyntax(rawUrl);
    pinned = await resolveCallback(url, options);
  } catch (err) {
    return { ok: false, kind: 'forbidden', error: err instanceof ClearShotError ? err.message : String(err) };
  }
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([deadline, options.signal]) : deadline;
  const payload = Buffer.from(body, 'utf8');
  return new Promise<AttemptResult>((resolve) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length), 'user-agent': 'ClearShot-Webhooks/1.0', ...headers },
        lookup: (_host, opts, callback) => {
          if ((opts as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [pinned]);
          else callback(null, pinned.address, pinned.family);
        },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // The answer's body is not needed: read (and drop) at most 64 KiB of it.
        let seen = 0;
        res.on('data', (c: Buffer) => {
          seen += c.length;
          if (seen > 64 * 1024) res.destroy();
        });
        const settle = () => resolve(status >= 200 && status < 300 ? { ok: true, status } : { ok: false, kind: 'http_error', status, error: `HTTP ${status}` });
        res.on('end', settle);
        res.on('close', settle);
        res.on('error', settle);
      },
    );
    req.on('error', (err) => {
      if (deadline.aborted) resolve({ ok: false, kind: 'timeout', error: `no answer within ${options.timeoutMs / 1000} s` });
      else resolve({ ok: false, kind: 'network_error', error: err.message });
    });
    req.end(payload);
  });
}
