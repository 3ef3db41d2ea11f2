/**
 * The job queue port: job id = task id, so enqueueing a task twice never runs it twice
 * at once. Adapters: in-process (embedded-queue.ts) and BullMQ on Redis (scale-out).
 */
/**
 * Runs one job. 'retry' asks for the job to run again later (transient failure, or the
 * process is stopping); 'skipped' means there was nothing to do (already taken or gone).
 */
export type JobOutcome = 'done' | 'retry' | 'skipped';
export type JobHandler = (taskId: string, signal: AbortSignal) => Promise<JobOutcome>;

/** How a job is scheduled. */
export interface EnqueueOptions {
  /**
   * Fairness group, the task's API key: free slots go round robin between groups with
   * waiting jobs, and each group has a cap on jobs running at once.
   */
  readonly group?: string;
}

export interface JobQueue {
  enqueue(taskId: string, options?: EnqueueOptions): Promise<void>;
  /** Starts consuming with `concurrency` jobs at once. */
  start(handler: JobHandler): Promise<void>;
  /** Stops taking jobs; running ones get `graceMs` to finish, then their signal aborts. */
  stop(graceMs: number): Promise<void>;
  /** Jobs waiting (not running). */
  depth(): Promise<number>;
  /** Jobs running in this process now. */
  active(): number;
}
