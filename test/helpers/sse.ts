/** A Server-Sent Events reader over fetch, as a client with an X-API-KEY header needs. */
export interface SseEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

export interface SseStream {
  readonly status: number;
  readonly contentType: string | null;
  /** Every event until the server ends the stream. */
  readonly events: Promise<SseEvent[]>;
  /** Comment lines seen (heartbeats). */
  readonly comments: string[];
  readonly body: Promise<unknown>;
  abort(): void;
}

export async function openEvents(url: string, key: string | undefined): Promise<SseStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: key ? { 'X-API-KEY': key } : {}, signal: controller.signal });
  const comments: string[] = [];
  const isStream = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
  const events = (async () => {
    const out: SseEvent[] = [];
    if (!isStream || !res.body) return out;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trim());
          }
          if (data.length) out.push({ event, data: JSON.parse(data.join('\n')) as Record<string, unknown> });
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
    return out;
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    comments,
    body: isStream ? Promise.resolve(undefined) : res.json(),
    abort: () => controller.abort(),
  };
}
