/**
 * API keys and their credits. Keys are stored only as SHA-256 hashes; the plain key is
 * shown once, when it is created. Every change of balance writes a ledger row.
 */
export interface ApiKey {
  readonly id: string;
  readonly name: string;
  /** Balance in credits. */
  readonly credits: number;
  /** Credits held by open tasks (not yet debited). */
  readonly held: number;
  readonly disabled: boolean;
  /** Epoch ms. */
  readonly createdAt: number;
}

export interface LedgerEntry {
  readonly keyId: string;
  readonly taskId?: string | undefined;
  /** Negative for a debit. */
  readonly delta: number;
  readonly reason: 'debit' | 'grant' | 'adjust';
  readonly createdAt: number;
}

export interface KeyStore {
  createKey(key: { id: string; name: string; hash: string; credits: number; createdAt: number }): Promise<ApiKey>;
  findByHash(hash: string): Promise<(ApiKey & { readonly hash: string }) | undefined>;
  findById(id: string): Promise<ApiKey | undefined>;
  listKeys(): Promise<ApiKey[]>;
  setDisabled(id: string, disabled: boolean): Promise<ApiKey | undefined>;
  /** Adds (or removes, if negative and covered) credits, with a ledger row. */
  addCredits(id: string, delta: number, reason: 'grant' | 'adjust'): Promise<ApiKey | undefined>;
  ledger(keyId: string): Promise<LedgerEntry[]>;
  /** Every key with its hash (migration between stores). */
  exportKeys(): Promise<Array<ApiKey & { readonly hash: string }>>;
}
