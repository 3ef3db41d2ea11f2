/**
 * Before/after comparison: the "after" image is clipped at a divider that can be
 * dragged with a pointer or moved with the arrow keys (role="slider"); a click on the
 * image chooses where the 1:1 crop view looks.
 */
export interface CompareElements {
  readonly container: HTMLElement;
  readonly divider: HTMLElement;
  readonly afterWrap: HTMLElement;
}

export function setDivider(el: CompareElements, percent: number): void {
  const p = Math.max(0, Math.min(100, percent));
  el.divider.style.left = `${p}%`;
  el.afterWrap.style.clipPath = `inset(0 0 0 ${p}%)`;
  el.divider.setAttribute('aria-valuenow', String(Math.round(p)));
  el.divider.setAttribute('aria-valuetext', `${Math.round(p)}% before, ${100 - Math.round(p)}% after`);
}

export function initCompare(el: CompareElements, onPick: (x: number, y: number) => void): void {
  let dragging = false;
  const fromEvent = (e: PointerEvent) => {
    const r = el.container.getBoundingClientRect();
    return { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height };
  };
  el.divider.addEventListener('pointerdown', (e) => {
    dragging = true;
    el.divider.setPointerCapture(e.pointerId);
    e.preventDefault();
  });
  el.divider.addEventListener('pointermove', (e) => {
    if (dragging) setDivider(el, fromEvent(e).x * 100);
  });
  const stop = () => {
    dragging = false;
  };
  el.divider.addEventListener('pointerup', stop);
  el.divider.addEventListener('pointercancel', stop);
  el.container.addEventListener('click', (e) => {
    if (e.target === el.divider || el.divider.contains(e.target as Node)) return;
    const p = fromEvent(e as PointerEvent);
    onPick(p.x, p.y);
  });
  el.divider.addEventListener('keydown', (e) => {
    const now = Number(el.divider.getAttribute('aria-valuenow'));
    const step = e.shiftKey ? 10 : 2;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowDown') setDivider(el, now - step);
    else if (e.key === 'ArrowRight' || e.key === 'ArrowUp') setDivider(el, now + step);
    else if (e.key === 'Home') setDivider(el, 0);
    else if (e.key === 'End') setDivider(el, 100);
    else return;
    e.preventDefault();
  });
  setDivider(el, 50);
}

/**
 * Draws the 1:1 crop around (x, y) in [0,1]: the output at its own pixels, and the
 * same region of the input enlarged to the same size without smoothing.
 */
export function drawZoom(before: HTMLImageElement, after: HTMLImageElement, beforeCanvas: HTMLCanvasElement, afterCanvas: HTMLCanvasElement, x: number, y: number): void {
  const size = afterCanvas.width;
  const ax = Math.max(0, Math.min(after.naturalWidth - size, Math.round(x * after.naturalWidth - size / 2)));
  const ay = Math.max(0, Math.min(after.naturalHeight - size, Math.round(y * after.naturalHeight - size / 2)));
  const a = afterCanvas.getContext('2d');
  if (a) {
    a.clearRect(0, 0, size, size);
    a.drawImage(after, ax, ay, size, size, 0, 0, size, size);
  }
  const ratio = before.naturalWidth / after.naturalWidth;
  const b = beforeCanvas.getContext('2d');
  if (b && ratio > 0) {
    b.imageSmoothingEnabled = false;
    b.clearRect(0, 0, size, size);
    b.drawImage(before, ax * ratio, ay * ratio, size * ratio, size * ratio, 0, 0, size, size);
  }
}
