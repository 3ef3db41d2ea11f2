import { autoScale, MAX_SIDE, MIN_LONG_EDGE } from '../../src/engine/scale-rules.js';
import { creditCost } from '../../src/tasks/credits.js';
import { ApiError, createTask, getTask, watchTask, type CreateParams, type TaskData } from './api.js';
import { drawZoom, initCompare, setDivider } from './compare.js';
import { loadHistory, remember, saveHistory, type HistoryEntry } from './history.js';
import { requestError, STATE_TEXT, taskError } from './messages.js';

/**
 * The playground page: key, image, options, progress, result, history. The scale and
 * credit rules are the service's own modules, bundled in, so the page can never
 * disagree with the server about them.
 */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const KEY_STORAGE = 'clearshot.apiKey';

const els = {
  keyForm: $<HTMLFormElement>('key-form'),
  key: $<HTMLInputElement>('api-key'),
  keyToggle: $<HTMLButtonElement>('key-toggle'),
  keyStatus: $('key-status'),
  drop: $('drop'),
  file: $<HTMLInputElement>('file'),
  preview: $<HTMLImageElement>('preview'),
  dropHint: $('drop-hint'),
  url: $<HTMLInputElement>('url'),
  scale: $<HTMLSelectElement>('scale'),
  returnType: $<HTMLSelectElement>('return-type'),
  model: $<HTMLSelectElement>('model'),
  format: $<HTMLSelectElement>('format'),
  strengthAuto: $<HTMLInputElement>('strength-auto'),
  strength: $<HTMLInputElement>('strength'),
  strengthValue: $<HTMLOutputElement>('strength-value'),
  summary: $('summary'),
  submit: $<HTMLButtonElement>('submit'),
  statusCard: $('status-card'),
  progress: $<HTMLProgressElement>('progress'),
  state: $('state'),
  error: $('error'),
  resultCard: $('result-card'),
  compare: $('compare'),
  before: $<HTMLImageElement>('before'),
  after: $<HTMLImageElement>('after'),
  afterWrap: $('after-wrap'),
  divider: $('divider'),
  zoomBefore: $<HTMLCanvasElement>('zoom-before'),
  zoomAfter: $<HTMLCanvasElement>('zoom-after'),
  facts: $('facts'),
  download: $<HTMLAnchorElement>('download'),
  validity: $('validity'),
  history: $<HTMLOListElement>('history'),
  historyClear: $<HTMLButtonElement>('history-clear'),
};

interface Selection {
  readonly source: { file: File } | { url: string };
  readonly name: string;
  /** Where the page can display the input (object URL or the URL itself). */
  readonly display: string;
  width?: number;
  height?: number;
}

let selection: Selection | undefined;
let busy = false;
let validityTimer: number | undefined;

// ---- key ------------------------------------------------------------------------------

function currentKey(): string {
  return els.key.value.trim();
}

els.key.value = localStorage.getItem(KEY_STORAGE) ?? '';
els.keyStatus.textContent = els.key.value ? 'Key saved in this browser.' : 'Paste your API key once; it stays in this browser only.';
els.keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  localStorage.setItem(KEY_STORAGE, currentKey());
  els.keyStatus.textContent = currentKey() ? 'Key saved in this browser.' : 'Key removed.';
  updateSummary();
});
els.keyToggle.addEventListener('click', () => {
  const show = els.key.type === 'password';
  els.key.type = show ? 'text' : 'password';
  els.keyToggle.textContent = show ? 'Hide' : 'Show';
  els.keyToggle.setAttribute('aria-pressed', String(show));
});

// ---- image ----------------------------------------------------------------------------

function measure(sel: Selection): void {
  const img = new Image();
  img.onload = () => {
    if (selection !== sel) return;
    sel.width = img.naturalWidth;
    sel.height = img.naturalHeight;
    updateSummary();
  };
  img.onerror = () => updateSummary();
  img.src = sel.display;
}

function chooseFile(file: File): void {
  if (selection && 'file' in selection.source) URL.revokeObjectURL(selection.display);
  selection = { source: { file }, name: file.name, display: URL.createObjectURL(file) };
  els.url.value = '';
  els.preview.src = selection.display;
  els.preview.alt = `Selected: ${file.name}`;
  els.preview.hidden = false;
  els.dropHint.textContent = `${file.name} (${(file.size / 1e6).toFixed(2)} MB) — press to change`;
  measure(selection);
  updateSummary();
}

els.drop.addEventListener('click', () => els.file.click());
els.drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    els.file.click();
  }
});
els.file.addEventListener('change', () => {
  const f = els.file.files?.[0];
  if (f) chooseFile(f);
});
for (const type of ['dragenter', 'dragover'] as const) {
  els.drop.addEventListener(type, (e) => {
    e.preventDefault();
    els.drop.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop'] as const) els.drop.addEventListener(type, () => els.drop.classList.remove('over'));
els.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  const f = e.dataTransfer?.files[0];
  if (f) chooseFile(f);
});
els.url.addEventListener('input', () => {
  const url = els.url.value.trim();
  if (!url) {
    selection = undefined;
    updateSummary();
    return;
  }
  els.preview.hidden = true;
  els.dropHint.textContent = 'Drop a photo here, or press to choose one';
  selection = { source: { url }, name: url.split('/').pop() || url, display: url };
  measure(selection);
  updateSummary();
});

// ---- options and summary --------------------------------------------------------------

function params(): CreateParams {
  return {
    type: (document.querySelector<HTMLInputElement>('input[name=type]:checked')?.value ?? 'clean') as CreateParams['type'],
    scale: els.scale.value as CreateParams['scale'],
    returnType: els.returnType.value as CreateParams['returnType'],
    model: els.model.value as CreateParams['model'],
    format: els.format.value as CreateParams['format'],
    strength: els.strengthAuto.checked ? '' : els.strength.value,
  };
}

function showStrength(): void {
  els.strength.disabled = els.strengthAuto.checked;
  els.strengthValue.textContent = els.strengthAuto.checked ? 'auto' : Number(els.strength.value).toFixed(2);
}
els.strengthAuto.addEventListener('change', showStrength);
els.strength.addEventListener('input', showStrength);

function updateSummary(): void {
  const sel = selection;
  const key = currentKey();
  els.submit.disabled = busy || !sel || !key;
  if (!sel) {
    els.summary.textContent = 'Choose an image to see the result size and its cost.';
    return;
  }
  const p = params();
  if (sel.width === undefined || sel.height === undefined) {
    els.summary.textContent = `${p.scale ? `${p.scale}x` : 'Auto scale'}: the size is known once the service reads the image (2 credits up to 2048 px, 3 above).`;
  } else {
    const { width: w, height: h } = sel;
    const long = Math.max(w, h);
    if (long > MAX_SIDE || Math.max(w, h) < MIN_LONG_EDGE || Math.min(w, h) < 1) {
      els.summary.textContent = `${w} × ${h}: outside the limits (long edge ${MIN_LONG_EDGE} to ${MAX_SIDE} px).`;
    } else {
      const s = p.scale ? Number(p.scale) : autoScale(w, h);
      els.summary.textContent = `${w} × ${h} → ${w * s} × ${h * s} (${s}x${p.scale ? '' : ', auto'}), costs ${creditCost(w, h)} credits`;
    }
  }
  if (!key) els.summary.textContent += ' — save your API key first.';
}

for (const el of [els.scale, els.returnType, els.model, els.format]) el.addEventListener('change', updateSummary);
document.querySelectorAll('input[name=type]').forEach((el) => el.addEventListener('change', updateSummary));
els.key.addEventListener('input', updateSummary);

// ---- run ------------------------------------------------------------------------------

function showError(message: string): void {
  els.statusCard.hidden = false;
  els.error.hidden = false;
  els.error.textContent = message;
}

function mimeOfBase64(b64: string): string {
  if (b64.startsWith('/9j/')) return 'image/jpeg';
  if (b64.startsWith('iVBOR')) return 'image/png';
  if (b64.startsWith('UklGR')) return 'image/webp';
  return 'image/tiff';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(): Promise<void> {
  const sel = selection;
  const key = currentKey();
  if (!sel || !key || busy) return;
  busy = true;
  updateSummary();
  els.resultCard.hidden = true;
  els.statusCard.hidden = false;
  els.error.hidden = true;
  els.progress.value = 0;
  els.state.textContent = 'Uploading';
  const started = performance.now();
  const p = params();
  try {
    const id = await createTask(key, p, sel.source);
    const show = (t: Pick<TaskData, 'state' | 'state_detail' | 'progress' | 'phase_state'>) => {
      els.progress.value = t.progress;
      els.state.textContent = `${STATE_TEXT[t.phase_state ?? t.state] ?? t.state_detail} — ${t.progress}%`;
    };
    // Live progress first; polling when no stream can be had.
    let task: TaskData | undefined = await watchTask(key, id, show);
    if (task) show(task);
    while (!task || !(task.state === 1 || task.state < 0)) {
      try {
        task = await getTask(key, id);
      } catch (err) {
        if (err instanceof ApiError && err.status === 429) {
          await sleep((err.retryAfterS ?? 1) * 1000);
          continue;
        }
        throw err;
      }
      show(task);
      if (task.state === 1 || task.state < 0) break;
      await sleep(600);
    }
    const seconds = (performance.now() - started) / 1000;
    const entry: HistoryEntry = {
      taskId: task.task_id,
      at: Date.now(),
      name: sel.name,
      state: task.state,
      ...(task.input_width ? { inputSize: `${task.input_width} × ${task.input_height}` } : {}),
      ...(task.image_width ? { outputSize: `${task.image_width} × ${task.image_height}` } : {}),
    };
    if (task.state < 0) {
      els.state.textContent = 'Failed';
      showError(taskError(task));
      renderHistory(remember(entry));
      return;
    }
    const image = p.returnType === '2' ? `data:${mimeOfBase64(task.image ?? '')};base64,${task.image ?? ''}` : (task.image ?? '');
    if (p.returnType === '1' && task.image) {
      entry.image = task.image;
      entry.expiresAt = expiryOf(task.image);
    }
    renderHistory(remember(entry));
    showResult(sel, task, image, seconds);
  } catch (err) {
    els.state.textContent = 'Failed';
    showError(requestError(err));
  } finally {
    busy = false;
    updateSummary();
  }
}

els.submit.addEventListener('click', () => void run());

// ---- result ---------------------------------------------------------------------------

function expiryOf(url: string): number | undefined {
  try {
    const e = Number(new URL(url, location.href).searchParams.get('expires'));
    return e > 0 ? e * 1000 : undefined;
  } catch {
    return undefined;
  }
}

function showValidity(expiresAt: number | undefined): void {
  window.clearInterval(validityTimer);
  const tick = () => {
    if (!expiresAt) {
      els.validity.textContent = 'Base64 result: save it now, it is not kept by the page.';
      return;
    }
    const left = expiresAt - Date.now();
    els.validity.textContent = left > 0 ? `The result URL works for another ${Math.ceil(left / 60000)} min.` : 'The result URL has expired.';
  };
  tick();
  validityTimer = window.setInterval(tick, 15000);
}

function fact(term: string, value: string): void {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  els.facts.append(dt, dd);
}

let zoomPoint = { x: 0.5, y: 0.5 };

function showResult(sel: Selection, task: TaskData, image: string, seconds: number): void {
  els.resultCard.hidden = false;
  els.facts.replaceChildren();
  fact('Input', `${task.input_width} × ${task.input_height}`);
  fact('Output', `${task.image_width} × ${task.image_height}`);
  fact('Time', `${seconds.toFixed(1)} s`);
  if (task.credits !== undefined) fact('Credits', String(task.credits));
  if (task.faces) fact('Faces', task.faces.enhanced > 0 ? `${task.faces.enhanced} restored${task.faces.detected > task.faces.enhanced ? ` (of ${task.faces.detected} found)` : ''}` : 'none found: enhanced as clean');
  if (task.strength !== undefined) fact('Strength', `${task.strength.toFixed(2)}${task.strength_auto ? ' (auto)' : ''}`);
  if (task.analysis) fact('Measured', `JPEG quality ${task.analysis.jpeg_quality ?? 'n/a'}, noise ${task.analysis.noise}, sharpness ${task.analysis.sharpness}`);
  if (task.notes?.length) fact('Notes', task.notes.join('; '));
  // Face mode: open the 1:1 view on the largest face.
  const face = task.faces?.boxes[0];
  if (face && task.image_width && task.image_height) zoomPoint = { x: (face.x + face.width / 2) / task.image_width, y: (face.y + face.height / 2) / task.image_height };
  els.download.href = image;
  els.download.setAttribute('download', `clearshot-${task.task_id}`);
  showValidity(image.startsWith('data:') ? undefined : expiryOf(image));
  els.before.src = sel.display;
  els.after.src = image;
  setDivider({ container: els.compare, divider: els.divider, afterWrap: els.afterWrap }, 50);
  const redraw = () => {
    if (els.before.complete && els.after.complete && els.after.naturalWidth) drawZoom(els.before, els.after, els.zoomBefore, els.zoomAfter, zoomPoint.x, zoomPoint.y);
  };
  els.after.onload = redraw;
  els.before.onload = redraw;
  els.after.onerror = () => fact('Display', 'your browser cannot show this format (e.g. TIFF); use Download');
  redraw();
  els.resultCard.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

initCompare({ container: els.compare, divider: els.divider, afterWrap: els.afterWrap }, (x, y) => {
  zoomPoint = { x, y };
  drawZoom(els.before, els.after, els.zoomBefore, els.zoomAfter, x, y);
});

// ---- history --------------------------------------------------------------------------

function renderHistory(entries: HistoryEntry[]): void {
  els.history.replaceChildren(
    ...entries.map((e) => {
      const li = document.createElement('li');
      const when = new Date(e.at).toLocaleTimeString();
      const outcome = e.state === 1 ? `${e.inputSize ?? '?'} → ${e.outputSize ?? '?'}` : 'failed';
      li.textContent = `${when} · ${e.name} · ${outcome} `;
      if (e.image && e.expiresAt && e.expiresAt > Date.now()) {
        const open = document.createElement('a');
        open.href = e.image;
        open.textContent = 'open result';
        open.target = '_blank';
        open.rel = 'noopener';
        li.append(open);
      }
      return li;
    }),
  );
  els.historyClear.hidden = entries.length === 0;
}

els.historyClear.addEventListener('click', () => {
  saveHistory([]);
  renderHistory([]);
});

renderHistory(loadHistory());
updateSummary();
