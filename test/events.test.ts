import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { closeTestEngine, startTestServer, type TestServer } from './helpers/server.js';
import { createMultipart, getTask, json, pollUntilSettled } from './helpers/client.js';
import { photo } from './helpers/images.js';
import { openEvents } from './helpers/sse.js';

/** GET /api/tasks/visual/scale/{task_id}/events over real HTTP. */
let image: Buffer;
let slowImage: Buffer;
before(async () => {
  image = await photo(24, 16);
  slowImage = await photo(192, 160);
});
after(() => closeTestEngine());

const eventsUrl = (server: TestServer, id: string) => `${server.url}/api/tasks/visual/scale/${id}/events`;

describe('live progress (Server-Sent Events)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  it('streams progress changes, then the final task view, then closes', async () => {
    // Three tiles of the fast network: progress advances per tile.
    const created = await json(await createMultipart(server, { scale_factor: '4' }, await photo(1100, 400)));
    const id = created.body.data.task_id as string;
    const stream = await openEvents(eventsUrl(server, id), server.key);
    assert.equal(stream.status, 200);
    assert.match(stream.contentType ?? '', /^text\/event-stream/);
    const events = await stream.events;
    const progress = events.filter((e) => e.event === 'progress');
    const last = events.at(-1)!;
    assert.equal(last.event, 'done', JSON.stringify(events.map((e) => e.event)));
    assert.equal(events.filter((e) => e.event === 'done').length, 1);
    assert.ok(progress.length >= 2, `several progress events: ${JSON.stringify(progress.map((p) => p.data))}`);
    for (const p of progress) {
      assert.equal(p.data.task_id, id);
      assert.equal(p.data.state, 4);
      assert.match(String(p.data.phase), /^(queued|preparing|processing)$/);
    }
    const values = progress.map((p) => p.data.progress as number);
    assert.deepEqual(values, [...values].sort((a, b) => a - b), 'progress never goes back');
    assert.ok(values.some((v) => v > 0 && v < 100), `progress rises during processing: ${values.join(',')}`);
    // Consecutive progress events differ (one per change).
    for (let i = 1; i < progress.length; i++) assert.notDeepEqual(progress[i]!.data, progress[i - 1]!.data);
    assert.deepEqual(last.data, (await getTask(server, id)).body.data, 'the final event is the task view of a GET');
    assert.equal(last.data.state, 1);
  });

  it('a finished task gets its final view at once; auth and ownership as GET', async () => {
    const done = await json(await createMultipart(server, { sync: '1' }, image));
    const id = done.body.data.task_id as string;
    const events = await (await openEvents(eventsUrl(server, id), server.key)).events;
    assert.deepEqual(
      events.map((e) => [e.event, e.data.state]),
      [['done', 1]],
    );
    const noKey = await openEvents(eventsUrl(server, id), undefined);
    assert.equal(noKey.status, 401);
    assert.deepEqual(await noKey.body, { status: 401, message: 'missing X-API-KEY header', data: {} });
    const { key: other } = await server.service.keys.create('events-other', 10);
    const notYours = await openEvents(eventsUrl(server, id), other);
    assert.equal(notYours.status, 404);
    assert.equal(((await notYours.body) as { status: number }).status, 404);
    assert.equal((await openEvents(eventsUrl(server, '00000000-0000-0000-0000-000000000000'), server.key)).status, 404);
  });
});

describe('live progress is bounded', () => {
  it('heartbeats while idle, a time limit, and a cap on open streams per key', async () => {
    const server = await startTestServer({ CLEARSHOT_EVENTS_MAX_PER_KEY: '2', CLEARSHOT_EVENTS_MAX_S: '1.5', CLEARSHOT_EVENTS_HEARTBEAT_S: '0.2' });
    try {
      // A slow task holds the only worker; the second waits in line, its view unchanged.
      const slow = await json(await createMultipart(server, { model: 'quality', scale_factor: '4' }, slowImage));
      const queued = await json(await createMultipart(server, { scale_factor: '2' }, image));
      const id = queued.body.data.task_id as string;
      const a = await openEvents(eventsUrl(server, id), server.key);
      const b = await openEvents(eventsUrl(server, id), server.key);
      assert.deepEqual([a.status, b.status], [200, 200]);
      const third = await openEvents(eventsUrl(server, id), server.key);
      assert.equal(third.status, 429);
      assert.match(((await third.body) as { message: string }).message, /too many progress streams open for this API key \(at most 2\)/);
      // Another key has its own allowance.
      const { key: other } = await server.service.keys.create('events-cap', 10);
      const mine = await json(await createMultipart(server, { scale_factor: '2' }, image, other));
      const otherStream = await openEvents(eventsUrl(server, mine.body.data.task_id as string), other);
      assert.equal(otherStream.status, 200);
      otherStream.abort();

      const events = await a.events;
      assert.equal(events[0]!.event, 'progress');
      assert.equal(events[0]!.data.phase, 'queued');
      assert.equal(events.at(-1)!.event, 'timeout', JSON.stringify(events));
      assert.ok(a.comments.filter((c) => c === 'heartbeat').length >= 2, `heartbeats: ${a.comments.join(',')} ${JSON.stringify(events)}`);
      await b.events;
      // Closed streams free their places.
      const again = await openEvents(eventsUrl(server, id), server.key);
      assert.equal(again.status, 200);
      again.abort();
      // Let the work finish: an engine stopped in the middle of one network run is not
      // what this test is about.
      for (const t of [slow, queued, mine]) await pollUntilSettled(server, t.body.data.task_id as string, t === mine ? other : server.key, 240_000);
    } finally {
      await server.stop();
    }
  });
});
