import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import sharp from 'sharp';
import { closeTestEngine, startTestServer } from './helpers/server.js';
import { createJson, createMultipart, json } from './helpers/client.js';
import { photo } from './helpers/images.js';
import { REPO_ROOT } from './helpers/paths.js';

/** What an operator sees: log lines, metrics, start-up hints, configuration errors. */
function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>>; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), text: () => text, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

let image: Buffer;
before(async () => {
  image = await photo(24, 16);
});
after(() => closeTestEngine());

describe('operations', () => {
  it('logs every task end (ids, state, duration, scale, model; never the key or the image) and counts every final state', async () => {
    const log = capture();
    const server = await startTestServer({}, { logger: log.logger });
    try {
      const ok = await json(await createMultipart(server, { sync: '1', scale_factor: '2' }, image));
      const invalid = await json(await createJson(server, { image_base64: Buffer.from('not an image').toString('base64') }));
      const huge = await sharp({ create: { width: 5000, height: 12, channels: 3, background: '#888' } }).png().toBuffer();
      const tooLarge = await json(await createMultipart(server, {}, huge));
      const ended = () => log.lines().filter((l) => l.msg === 'task ended');
      const deadline = Date.now() + 10_000;
      while (ended().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const byId = new Map(ended().map((l) => [l.taskId, l]));
      const keyId = (await server.service.keys.authenticate(server.key)).id;
      const success = byId.get(ok.body.data.task_id)!;
      assert.deepEqual(
        [success.state, success.keyId, success.scale, success.outputScale, success.model, success.type, success.source, success.input, success.output],
        [1, keyId, 2, 2, 'fast', 'clean', 'file', '24x16', '48x32'],
      );
      assert.equal(typeof success.durationS, 'number');
      assert.deepEqual([byId.get(invalid.body.data.task_id)?.state, byId.get(invalid.body.data.task_id)?.code], [-7, 'INVALID_IMAGE']);
      assert.deepEqual([byId.get(tooLarge.body.data.task_id)?.state, byId.get(tooLarge.body.data.task_id)?.scale], [-5, 'auto']);
      assert.ok(!log.text().includes(server.key), 'the key is never logged');
      assert.ok(!log.text().includes(image.toString('base64').slice(0, 40)), 'nor the image');

      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      for (const state of ['1', '-7', '-5']) assert.match(metrics, new RegExp(`^clearshot_task_duration_seconds_count\\{state="${state}"\\} 1$`, 'm'), state);
    } finally {
      await server.stop();
    }
  });

  it('says at start how to create a key when none exists, and not otherwise', async () => {
    const empty = capture();
    const server = await startTestServer({ CLEARSHOT_BOOTSTRAP_KEY: '' }, { logger: empty.logger });
    await server.stop();
    const hint = empty.lines().filter((l) => /no API key exists yet/.test(String(l.msg)));
    assert.equal(hint.length, 1);
    assert.match(String(hint[0]!.msg), /npx clearshot keys create --name NAME --credits 100\` \(with DATA_DIR=\/.+\), or set CLEARSHOT_BOOTSTRAP_KEY$/);
    const withKey = capture();
    const other = await startTestServer({}, { logger: withKey.logger });
    await other.stop();
    assert.ok(!withKey.text().includes('no API key exists'));
  });

  it('configuration errors: one plain line per problem on stderr, cross-variable rules in the same pass', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PORT: 'x', STORAGE: 's3', CLEARSHOT_RATE_LIMIT: '-1', AWS_ACCESS_KEY_ID: 'a', LOG_LEVEL: 'info' };
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [join(REPO_ROOT, 'dist', 'src', 'main.js')], { env }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })),
    );
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [
      'clearshot: PORT: expected an integer in [0, 65535] but received "x"',
      'clearshot: CLEARSHOT_RATE_LIMIT: expected a number in [0, 10000] but received "-1"',
      'clearshot: S3_BUCKET is required with STORAGE=s3',
      'clearshot: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together',
    ]);
  });
});
