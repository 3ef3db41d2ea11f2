import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigInvalid, loadConfig } from './config.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return '';
  } catch (e) {
    return (e as Error).message;
  }
};

const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;

describe('configuration', () => {
  it('embedded defaults need nothing', () => {
    const c = loadConfig({});
    assert.deepEqual([c.role, c.storage, c.databaseUrl, c.redisUrl, c.port], ['all', 'fs', undefined, undefined, 8080]);
  });

  it('CLEARSHOT_PRECISION: auto by default, auto/fp32/int8 only, with a clear line for anything else', () => {
    const c = loadConfig({});
    assert.deepEqual([c.precision, c.int8MinPsnr, c.int8AssumeNoVnni], ['auto', 42, false]);
    for (const value of ['auto', 'fp32', 'int8'] as const) assert.equal(loadConfig({ CLEARSHOT_PRECISION: value }).precision, value);
    assert.match(problems({ CLEARSHOT_PRECISION: 'fp16' }), /CLEARSHOT_PRECISION: expected one of auto, fp32, int8 but received "fp16"/);
    assert.match(problems({ CLEARSHOT_PRECISION: 'INT8' }), /CLEARSHOT_PRECISION: expected one of auto, fp32, int8/);
    assert.match(problems({ CLEARSHOT_INT8_MIN_PSNR: '120' }), /CLEARSHOT_INT8_MIN_PSNR: expected a number in \[0, 100\]/);
    assert.equal(loadConfig({ CLEARSHOT_INT8_ASSUME_NO_VNNI: '1' }).int8AssumeNoVnni, true);
    assert.match(problems({ CLEARSHOT_INT8_ASSUME_NO_VNNI: 'maybe' }), /CLEARSHOT_INT8_ASSUME_NO_VNNI: expected 0\/1\/true\/false/);
  });

  it('names every bad variable at once', () => {
    const m = problems({ PORT: 'x', CLEARSHOT_RATE_LIMIT: '-1', DATABASE_URL: 'mysql://h/db', ROLE: 'boss' });
    for (const name of ['PORT', 'CLEARSHOT_RATE_LIMIT', 'DATABASE_URL', 'ROLE']) assert.match(m, new RegExp(`${name}:`));
  });

  it('rules between variables are checked in the same pass, never about a variable already named', () => {
    const m = problems({ PORT: 'x', STORAGE: 's3' });
    assert.match(m, /PORT: expected an integer/);
    assert.match(m, /S3_BUCKET is required with STORAGE=s3/);
    const once = problems({ REDIS_URL: 'redis://h', DATABASE_URL: 'mysql://h/db' });
    assert.match(once, /DATABASE_URL: expected a postgres: or postgresql: URL/);
    assert.doesNotMatch(once, /DATABASE_URL is required/);
    try {
      loadConfig({ PORT: 'x', STORAGE: 's3' });
      assert.fail('refused');
    } catch (err) {
      assert.ok(err instanceof ConfigInvalid);
      assert.deepEqual(err.problems, ['PORT: expected an integer in [0, 65535] but received "x"', 'S3_BUCKET is required with STORAGE=s3']);
    }
  });

  it('a worker without the shared services names each missing one', () => {
    const m = problems({ ROLE: 'worker' });
    assert.match(m, /DATABASE_URL is required with ROLE=worker/);
    assert.match(m, /REDIS_URL is required with ROLE=worker/);
    assert.match(m, /STORAGE=s3 is required with ROLE=worker/);
  });

  it('an API process also needs the shared URL secret; S3 needs a bucket', () => {
    const m = problems({ ROLE: 'api', DATABASE_URL: 'postgres://h/db', REDIS_URL: 'redis://h', STORAGE: 's3' });
    assert.match(m, /S3_BUCKET is required with STORAGE=s3/);
    assert.match(m, /CLEARSHOT_URL_SECRET is required with ROLE=api/);
    assert.doesNotMatch(m, /DATABASE_URL is required/);
  });

  it('a shared queue needs a shared database; AWS keys come in pairs', () => {
    assert.match(problems({ REDIS_URL: 'redis://h' }), /DATABASE_URL is required with REDIS_URL/);
    assert.match(problems({ AWS_ACCESS_KEY_ID: 'a' }), /go together/);
    const ok = loadConfig({ ROLE: 'worker', DATABASE_URL: 'postgres://h/db', REDIS_URL: 'redis://h', STORAGE: 's3', S3_BUCKET: 'b', S3_FORCE_PATH_STYLE: '1', CLEARSHOT_WEBHOOK_SECRET: SECRET });
    assert.deepEqual([ok.role, ok.s3ForcePathStyle, ok.s3Region], ['worker', true, 'us-east-1']);
  });

  it('webhooks: the secret is whsec_ base64 and shared in scale-out; delays are a list of seconds', () => {
    assert.match(problems({ ROLE: 'api' }), /CLEARSHOT_WEBHOOK_SECRET is required with ROLE=api/);
    assert.match(problems({ CLEARSHOT_WEBHOOK_SECRET: 'hunter2' }), /CLEARSHOT_WEBHOOK_SECRET: secret 1 is invalid \(expected whsec_ followed by base64\)/);
    assert.match(problems({ CLEARSHOT_WEBHOOK_SECRET: `${SECRET},whsec_AAAA` }), /secret 2 is invalid \(the key must be 24 to 64 bytes, not 3\)/);
    assert.match(problems({ CLEARSHOT_WEBHOOK_RETRY_S: '10,soon' }), /CLEARSHOT_WEBHOOK_RETRY_S: expected up to 20 comma-separated delays/);
    const c = loadConfig({ CLEARSHOT_WEBHOOK_SECRET: ` ${SECRET} , ${SECRET}`, CLEARSHOT_WEBHOOK_RETRY_S: '1,2.5' });
    assert.deepEqual([c.webhookSecrets, c.webhookRetryS], [`${SECRET},${SECRET}`, [1, 2.5]]);
    assert.deepEqual(loadConfig({}).webhookRetryS, [10, 60, 180, 360]);
  });

  it('the result is frozen', () => {
    const c = loadConfig({});
    assert.throws(() => ((c as { port: number }).port = 1));
  });
});
