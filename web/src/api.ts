/**
 * The playground is a client like any other: it talks only to the public API
 * (POST /api/tasks/visual/scale, GET /api/tasks/visual/scale/{id}, result URLs).
 */
export interface TaskData {
  task_id: string;
  state: number;
  state_detail: string;
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
