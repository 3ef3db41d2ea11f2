import type { TestServer } from './server.js';

/** A minimal PicWish-style client over real HTTP (Node's fetch). */
export interface ApiResponse {
  readonly http: number;
  readonly body: { status: number; message: string; data: Record<string, unknown> };
  readonly headers: Headers;
}

export async function json(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  let body: ApiResponse['body'];
  try {
    body = JSON.parse(text) as ApiResponse['body'];
  } catch {
    throw new Error(`not JSON (HTTP ${res.status}): ${text.slice(0, 200)}`);
  }
  return { http: res.status, body, headers: res.headers };
}

/** multipart/form-data POST, with the image as a file part when given. */
export async function createMultipart(server: TestServer, fields: Record<string, string>, file?: Uint8Array, key = server.key): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  if (file) form.append('image_file', new Blob([file]), 'photo.png');
  return fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key }, body: form });
}

export async function createJson(server: TestServer, body: Record<string, unknown>, key = server.key): Promise<Response> {
  return fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function createForm(server: TestServer, fields: Record<string, string>, key = server.key): Promise<Response> {
  return fetch(`${server.url}/api/tasks/visual/scale`, { method: 'POST', headers: { 'X-API-KEY': key }, body: new URLSearchParams(fields) });
}

export async function getTask(server: TestServer, taskId: string, key = server.key): Promise<ApiResponse> {
  return json(await fetch(`${server.url}/api/tasks/visual/scale/${taskId}`, { headers: { 'X-API-KEY': key } }));
}

/** Polls like a PicWish client until the task settles (state 1 or negative). */
export async function pollUntilSettled(server: TestServer, taskId: string, key = server.key, timeoutMs = 60_000): Promise<ApiResponse> {
  const deadline = Date.now() + timeoutMs;
  const progress: number[] = [];
  for (;;) {
    const r = await getTask(server, taskId, key);
    const state = r.body.data.state as number;
    progress.push(r.body.data.progress as number);
    if (state === 1 || state < 0) return r;
    if (Date.now() > deadline) throw new Error(`task ${taskId} still in state ${state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
