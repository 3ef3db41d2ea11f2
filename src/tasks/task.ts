import type { ModelName, OutputFormat, ScaleFactor } from '../engine/types.js';
import type { ErrorCode } from '../errors/index.js';

/**
 * A photo enhancement task and its state machine (contract-notes.md, "Task state
 * codes"). Every state change goes through {@link canTransition}; stores apply it as
 * a conditional update, so two processes can never both move one task.
 */
export const STATE = {
  TIMEOUT: -8,
  INVALID_IMAGE: -7,
  TOO_LARGE: -5,
  DOWNLOAD_FAILED: -3,
  STORE_FAILED: -2,
  FAILED: -1,
  QUEUED: 0,
  SUCCESS: 1,
  PREPARING: 2,
  WAITING: 3,
  PROCESSING: 4,
} as const;
export type TaskState = (typeof STATE)[keyof typeof STATE];

export const ACTIVE_STATES: readonly TaskState[] = [STATE.PREPARING, STATE.WAITING, STATE.PROCESSING];
export const OPEN_STATES: readonly TaskState[] = [STATE.QUEUED, ...ACTIVE_STATES];

export function isTerminal(state: TaskState): boolean {
  return state === STATE.SUCCESS || state < 0;
}

/**
 * Allowed moves: queued -> preparing -> processing -> success; any open state may
 * fail; an active task may go back to queued (worker died, shutdown, retry).
 */
export function canTransition(from: TaskState, to: TaskState): boolean {
  if (isTerminal(from)) return false;
  if (to < 0) return true;
  switch (to) {
    case STATE.QUEUED:
      return ACTIVE_STATES.includes(from);
    case STATE.PREPARING:
      return from === STATE.QUEUED;
    case STATE.WAITING:
    case STATE.PROCESSING:
      return ACTIVE_STATES.includes(from);
    case STATE.SUCCESS:
      return from === STATE.PROCESSING;
    default:
      return false;
  }
}

/** The states a task may be in for a move to `to` to be legal. */
export function statesBefore(to: TaskState): TaskState[] {
  return (Object.values(STATE) as TaskState[]).filter((from) => canTransition(from, to));
}

/** `state_detail` text for each state; failures append their reason. */
export const STATE_DETAIL: Readonly<Record<TaskState, string>> = {
  [STATE.TIMEOUT]: 'Processing timeout',
  [STATE.INVALID_IMAGE]: 'Invalid image',
  [STATE.TOO_LARGE]: 'Image exceeds the limits',
  [STATE.DOWNLOAD_FAILED]: 'Download failed',
  [STATE.STORE_FAILED]: 'Storing the result failed',
  [STATE.FAILED]: 'Failed',
  [STATE.QUEUED]: 'Queued',
  [STATE.SUCCESS]: 'Complete',
  [STATE.PREPARING]: 'Preparing',
  [STATE.WAITING]: 'Waiting',
  [STATE.PROCESSING]: 'Processing',
};

export type ReturnType = 1 | 2 | 3;
export type EnhanceType = 'clean' | 'face';

/** What the client asked for (validated). */
export interface TaskRequest {
  readonly returnType: ReturnType;
  readonly sync: boolean;
  readonly type: EnhanceType;
  /** undefined = auto by the long edge. */
  readonly scale?: ScaleFactor | undefined;
  readonly model: ModelName;
  readonly format?: OutputFormat | undefined;
  readonly keepGps: boolean;
  /** Extension: weight of the network's output, 0-1; undefined = auto from the input's analysis. */
  readonly strength?: number | undefined;
  /** Extension (type=face): weight of the restored faces, 0-1; undefined = CLEARSHOT_FACE_STRENGTH. */
  readonly faceStrength?: number | undefined;
  /** Restore the faces only (implies face restoration); absent in tasks created before it existed. */
  readonly fixFaceOnly?: boolean | undefined;
  /** Extension: fast network precision forced by the request; undefined = the server's choice. */
  readonly precision?: 'fp32' | 'int8' | undefined;
  /** Where the final task view is POSTed when the task ends (README, "Callbacks"). */
  readonly callbackUrl?: string | undefined;
}

export type TaskSource = { readonly kind: 'file'; readonly blob: string } | { readonly kind: 'url'; readonly url: string; readonly blob?: string | undefined };

export interface TaskResult {
  readonly blob: string;
  readonly contentType: string;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
  /** Epoch ms after which the result URL stops working and the file is deleted. */
  readonly expiresAt: number;
}

export interface Task {
  readonly id: string;
  readonly keyId: string;
  readonly state: TaskState;
  readonly stateDetail: string;
  /** 0-100. */
  readonly progress: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly processedAt?: number | undefined;
  readonly completedAt?: number | undefined;
  readonly request: TaskRequest;
  readonly source: TaskSource;
  readonly input?: { readonly width: number; readonly height: number; readonly format: string } | undefined;
  readonly result?: TaskResult | undefined;
  /** Credits held for this task, debited only on success. */
  readonly credits: number;
  readonly charged: boolean;
  readonly attempts: number;
  readonly errorCode?: ErrorCode | undefined;
  readonly notes: readonly string[];
  /** Extension data (e.g. faces enhanced). */
  readonly extra?: Readonly<Record<string, unknown>> | undefined;
}
