/** Recent tasks of this browser, in localStorage (never sent anywhere). */
export interface HistoryEntry {
  taskId: string;
  at: number;
  name: string;
  inputSize?: string;
  outputSize?: string;
  state: number;
  /** Result URL (return_type 1) while it is valid; base64 results are not kept. */
  image?: string;
  expiresAt?: number;
}

const KEY = 'clearshot.history';
const MAX = 10;

export function loadHistory(): HistoryEntry[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as HistoryEntry[]) : [];
  } catch {
    return [];
  }
}

export function saveHistory(entries: HistoryEntry[]): void {
  localStorage.setItem(KEY, JSON.stringify(entries.slice(0, MAX)));
}

export function remember(entry: HistoryEntry): HistoryEntry[] {
  const list = [entry, ...loadHistory().filter((e) => e.taskId !== entry.taskId)].slice(0, MAX);
  saveHistory(list);
  return list;
}
