/**
 * The blob store port: inputs and results as opaque objects under string keys.
 * Adapters: local files (embedded, fs-blob-store.ts) and S3-compatible (scale-out).
 */
export interface BlobStore {
  put(key: string, data: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
  /** Deleting a missing object is not an error. */
  delete(key: string): Promise<void>;
}
