import type { WebhookStore } from '../webhooks/webhook-store.js';
import type { Task, TaskRequest, TaskResult, TaskSource, TaskState } from './task.js';

/**
 * The task store port. Adapters: SQLite (embedded, src/db/sqlite-store.ts) and
 * PostgreSQL (scale-out). One conformance suite (test/conformance/store-conformance.ts) runs
 * against every adapter.
 *
 * Credits are held when a task is created and debited only when it succeeds, in the
 * same transaction as the success transition, so a balance can never go negative and
 * no task is ever charged twice, whatever the concurrency or the crashes.
 */
export interface NewTask {
  readonly id: string;
  readonly keyId: string;
  readonly createdAt: number;
  readonly request: TaskRequest;
  readonly source: TaskSource;
  readonly input?: Task['input'];
  /** Credits to hold now (2 or 3). */
  readonly credits: number;
}

/** Fields a transition may set alongside the state. */
export interface TaskPatch {
  readonly stateDetail?: string;
  readonly progress?: number;
  readonly processedAt?: number;
  readonly completedAt?: number;
  readonly source?: TaskSource;
  readonly input?: Task['input'];
  readonly errorCode?: Task['errorCode'];
  readonly notes?: readonly string[];
  readonly extra?: Task['extra'];
  /** Increment the attempt counter (requeue after a worker died). */
  readonly countAttempt?: boolean;
}

export interface TaskStore extends WebhookStore {
  /** Inserts a QUEUED task and holds its credits, atomically; INSUFFICIENT_CREDITS if the key cannot pay. */
  create(task: NewTask): Promise<Task>;
  get(id: string): Promise<Task | undefined>;
  /**
   * Moves a task to `to` if the state machine allows it from its current state;
   * returns the updated task, or undefined when it was not in such a state. A move to
   * a failure state releases the held credits.
   */
  transition(id: string, to: TaskState, patch?: TaskPatch): Promise<Task | undefined>;
  /** Progress of an active task (ignored otherwise). */
  setProgress(id: string, progress: number): Promise<void>;
  /** Raises the credits held for an open task; false if the key cannot cover it. */
  raiseHold(id: string, credits: number): Promise<boolean>;
  /** PROCESSING -> SUCCESS with the result, and the debit, in one transaction. */
  complete(id: string, result: TaskResult, patch?: TaskPatch): Promise<Task | undefined>;
  /** Every task in an active state goes back to QUEUED (restart recovery); their ids. */
  requeueActive(): Promise<string[]>;
  /** How many QUEUED tasks were created before `createdAt` (a queued task's place in line). */
  queuedBefore(createdAt: number): Promise<number>;
  /** QUEUED task ids, oldest first. */
  queuedIds(limit: number): Promise<string[]>;
  /** Tasks queued before `queuedBefore`, or active since before `activeBefore` (epoch ms). */
  staleOpenTasks(queuedBefore: number, activeBefore: number, limit: number): Promise<Array<{ id: string; state: TaskState }>>;
  /** Successful tasks whose result expired before `now` and still have a result blob. */
  expiredResults(now: number, limit: number): Promise<Array<{ id: string; blob: string }>>;
  /** Forgets a task's result blob (after the sweeper deleted it). */
  clearResult(id: string): Promise<void>;
  /** Terminal tasks completed before `before`, with every blob they reference. */
  purgeable(before: number, limit: number): Promise<Array<{ id: string; blobs: string[] }>>;
  delete(id: string): Promise<void>;
  /** Tasks by state, for metrics. */
  countByState(): Promise<Partial<Record<TaskState, number>>>;
  /** For /healthz: whether the database answers and is intact (detail safe to show anyone). */
  health(): Promise<{ ok: boolean; detail: string }>;
  close(): Promise<void>;
}
