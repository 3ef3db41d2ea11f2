import { DeleteObjectCommand, GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client, S3ServiceException, type S3ClientConfig } from '@aws-sdk/client-s3';
import { ClearShotError } from '../errors/index.js';
import type { BlobStore } from './blob-store.js';

/**
 * S3-compatible blob store (scale-out mode): AWS S3, MinIO, Ceph, R2, s3rver... through
 * the AWS SDK and plain S3 calls only. Objects live under `<prefix><key>`.
 *
 * NOTE: results are served through the API's signed URLs (GET /results/...), not S3
 * presigned URLs: the URL a client gets is the same in every mode, the bucket never
 * needs to be reachable from the internet, and expiry answers 410 like the contract's
 * embedded mode. The cost is that result bytes flow through an API process.
 */
export interface S3Options {
  readonly bucket: string;
  readonly region: string;
  /** Custom endpoint (MinIO, s3rver...); unset for AWS. */
  readonly endpoint?: string | undefined;
  /** Path-style URLs (endpoint/bucket/key) instead of virtual-host style (bucket.endpoint/key). */
  readonly forcePathStyle: boolean;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string | undefined } | undefined;
  /** Key prefix inside the bucket (e.g. "clearshot/"). */
  readonly prefix?: string;
  /** Custom HTTP handler (proxies, custom DNS; tests use it for virtual-host style on localhost). */
  readonly requestHandler?: S3ClientConfig['requestHandler'];
}

export class S3BlobStore implements BlobStore {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3Options) {
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(options.credentials ? { credentials: options.credentials } : {}),
      ...(options.requestHandler ? { requestHandler: options.requestHandler } : {}),
      maxAttempts: 3,
    });
    this.prefix = options.prefix ?? '';
  }

  async put(key: string, data: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key, Body: data, ContentType: contentType }));
    } catch (err) {
      throw new ClearShotError('STORAGE_FAILED', `storing an object in S3 failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }));
      return out.Body ? await out.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      if (err instanceof NoSuchKey || (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404)) return undefined;
      throw new ClearShotError('STORAGE_FAILED', `reading an object from S3 failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }));
    } catch (err) {
      if (err instanceof S3ServiceException && err.$metadata.httpStatusCode === 404) return;
      throw new ClearShotError('STORAGE_FAILED', `deleting an object from S3 failed: ${(err as Error).message}`, { cause: err });
    }
  }

  close(): void {
    this.client.destroy();
  }
}
