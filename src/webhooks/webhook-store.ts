/**
 * Pending webhook deliveries, kept in the task store (SQLite or PostgreSQL) so that a
 * restart, or in scale-out any other process, finishes what a process left.
 *
 * A delivery row is written in the same transaction as the task's move to its final
 * state (success or failure), so no crash can end a task without its callback being
 * owed. Processes claim due rows with a lease (the claim counts the attempt); a claim
 * whose process died is claimed again once its lease has passed.
 */
export type WebhookStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDelivery {
  readonly taskId: string;
  readonly url: string;
  /** Attempts made so far, this one included. */
  readonly attempts: number;
}

export interface WebhookOutcome {
  readonly status: WebhookStatus;
  /** When the next attempt is due (status pending). */
  readonly nextAt?: number;
  readonly error?: string;
  readonly at: number;
}

export interface WebhookStore {
  /**
   * Claims up to `limit` pending deliveries due at `now`: each gets its attempt counted
   * and is hidden from other claims until `leaseUntil`.
   */
  claimWebhooks(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]>;
  /** Records an attempt's outcome; ignored when the claim is stale (another process took it since). */
  finishWebhook(taskId: string, attempts: number, outcome: WebhookOutcome): Promise<boolean>;
  /** The delivery of a task, for tests and diagnostics. */
  webhookOf(taskId: string): Promise<{ url: string; status: WebhookStatus; attempts: number; nextAt: number; lastError?: string } | undefined>;
  /** Pending deliveries (metrics). */
  pendingWebhooks(): Promise<number>;
}
