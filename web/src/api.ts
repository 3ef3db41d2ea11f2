/**
 * The playground is a client like any other: it talks only to the public API
 * (POST /api/tasks/visual/scale, GET /api/tasks/visual/scale/{id} and its /events
 * stream, result URLs).
 */
export interface TaskData {
  task_id: string;
  state: number;
  state_detail: string;
  /** Extension: the phase of an open task (its state reads 4 in every phase). */
  phase?: 'queued' | 'preparing' | 'waiting' | 'processing';
  phase_state?: number;
  progress: number;
  created_at: number;
  processed_at?: number;
  completed_at?: number;
  image?: string;
  image_width?: number;
  image_height?: number;
  input_width?: number;
  input_height?: number;
  credits?: number;
  notes?: string[];
  /** Extension: the network's weight used, and whether the engine chose it. */
  strength?: number;
  strength_auto?: boolean;
  analysis?: { jpeg_quality: number | null; noise: number; sharpness: number; degradation: number };
  /** Extension, type=face only: what face mode did (boxes in output pixels). */
  faces?: { detected: number; enhanced: number; boxes: Array<{ x: number; y: number; width: number; height: number; score: number }> };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

export interface CreateParams {
  type: 'clean' | 'face';
  scale: '' | '1' | '2' | '4';
  returnType: '1' | '2';
  model: 'fast' | 'quality';
  format: '' | 'jpg' | 'png' | 'webp' | 'tiff';
  /** '' = auto (the engine measures the input), else '0'..'1'. */
  strength: string;
}

async function envelope<T>(res: Response): Promise<T> {
  let body: { status?: number; message?: string; data?: T } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new ApiError(res.status, `unexpected answer (HTTP ${res.status})`);
  }
  if (!res.ok) {
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(res.status, body.message ?? `HTTP ${res.status}`, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return body.data as T;
}

export async function createTask(key: string, params: CreateParams, source: { file: File } | { url: string }): Promise<string> {
  const form = new FormData();
  if ('file' in source) form.append('image_file', source.file, source.file.name);
  else form.append('image_url', source.url);
  form.append('sync', '0');
  form.append('type', params.type);
  form.append('scale_factor', params.scale);
  form.append('return_type', params.returnType);
  form.append('model', params.model);
  if (params.format) form.append('format', params.format);
  if (params.strength) form.append('strength', params.strength);
  let res: Response;
  try {
    res = await fetch('/api/tasks/visual/scale', { method: 'POST', headers: { 'X-API-KEY': key }, body: form });
  } catch {
    throw new ApiError(0, 'cannot reach the service');
  }
  return (await envelope<{ task_id: string }>(res)).task_id;
}

export async function getTask(key: string, id: string): Promise<TaskData> {
  let res: Response;
  try {
    res = await fetch(`/api/tasks/visual/scale/${encodeURIComponent(id)}`, { headers: { 'X-API-KEY': key } });
  } catch {
    throw new ApiError(0, 'cannot reach the service');
  }
  return envelope<TaskData>(res);
}

/**
 * Follows a task through its live progress stream (Server-Sent Events read with fetch,
 * since EventSource cannot send the X-API-KEY header). Resolves with the final task,
 * or with undefined when no stream can be had or it ended early (time limit, too many
 * streams, an older server): the caller then polls.
 */
export async function watchTask(key: string, id: string, onUpdate: (task: Pick<TaskData, 'state' | 'state_detail' | 'progress' | 'phase_state'>) => void): Promise<TaskData | undefined> {
  let res: Response;
  try {
    res = await fetch(`/api/tasks/visual/scale/${encodeURIComponent(id)}/events`, { headers: { 'X-API-KEY': key, accept: 'text/event-stream' } });
  } catch {
    return undefined;
  }
  if (res.status === 401 || res.status === 404) await envelope(res);
  if (!res.ok || !res.body || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    await res.body?.cancel().catch(() => undefined);
    return undefined;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (!data) continue;
        const parsed = JSON.parse(data) as TaskData;
        if (event === 'progress') onUpdate(parsed);
        else if (event === 'done') return parsed;
        else return undefined; // timeout or error: poll instead
      }
    }
  } catch {
    return undefined;
  } finally {
    void reader.cancel().catch(() => undefined);
  }
}
