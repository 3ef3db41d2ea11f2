import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ACTIVE_STATES, OPEN_STATES, STATE, STATE_DETAIL, canTransition, isTerminal, statesBefore, type TaskState } from '../../src/tasks/task.js';

/** The task state machine (src/tasks/task.ts), as a table written out by hand. */

const { TIMEOUT, INVALID_IMAGE, TOO_LARGE, DOWNLOAD_FAILED, STORE_FAILED, FAILED, QUEUED, SUCCESS, PREPARING, WAITING, PROCESSING } = STATE;
const FAILURES: TaskState[] = [TIMEOUT, INVALID_IMAGE, TOO_LARGE, DOWNLOAD_FAILED, STORE_FAILED, FAILED];
const ALL: TaskState[] = [...FAILURES, QUEUED, SUCCESS, PREPARING, WAITING, PROCESSING];

/** from -> every state it may move to; a state not listed may move nowhere. */
const ALLOWED: ReadonlyMap<TaskState, readonly TaskState[]> = new Map<TaskState, TaskState[]>([
  [QUEUED, [PREPARING, ...FAILURES]],
  [PREPARING, [QUEUED, WAITING, PROCESSING, ...FAILURES]],
  [WAITING, [QUEUED, WAITING, PROCESSING, ...FAILURES]],
  [PROCESSING, [QUEUED, WAITING, PROCESSING, SUCCESS, ...FAILURES]],
]);

describe('task state machine', () => {
  it('has the codes of the contract', () => {
    assert.deepEqual(
      [TIMEOUT, INVALID_IMAGE, TOO_LARGE, DOWNLOAD_FAILED, STORE_FAILED, FAILED, QUEUED, SUCCESS, PREPARING, WAITING, PROCESSING],
      [-8, -7, -5, -3, -2, -1, 0, 1, 2, 3, 4],
    );
    assert.deepEqual([...ACTIVE_STATES], [2, 3, 4]);
    assert.deepEqual([...OPEN_STATES], [0, 2, 3, 4]);
    for (const s of ALL) assert.equal(typeof STATE_DETAIL[s], 'string', `detail for ${s}`);
  });

  it('isTerminal: success and every failure, nothing open', () => {
    assert.deepEqual(
      ALL.filter((s) => isTerminal(s)),
      [...FAILURES, SUCCESS],
    );
  });

  it('canTransition follows the full table of allowed moves (all 121 pairs)', () => {
    const wrong: string[] = [];
    for (const from of ALL) {
      for (const to of ALL) {
        const expected = (ALLOWED.get(from) ?? []).includes(to);
        if (canTransition(from, to) !== expected) wrong.push(`${from} -> ${to}: expected ${expected}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('a terminal task never moves, not even to itself or back to the queue', () => {
    for (const from of [...FAILURES, SUCCESS]) for (const to of ALL) assert.equal(canTransition(from, to), false, `${from} -> ${to}`);
  });

  it('success only from processing; a queued task cannot skip preparing', () => {
    assert.deepEqual(statesBefore(SUCCESS), [PROCESSING]);
    assert.deepEqual(statesBefore(PREPARING), [QUEUED]);
    assert.equal(canTransition(QUEUED, PROCESSING), false);
    assert.equal(canTransition(QUEUED, SUCCESS), false);
    assert.equal(canTransition(PREPARING, SUCCESS), false);
  });

  it('statesBefore lists exactly the states the table allows into each state, in STATE order', () => {
    const order = Object.values(STATE) as TaskState[];
    for (const to of ALL) {
      const expected = order.filter((from) => (ALLOWED.get(from) ?? []).includes(to));
      assert.deepEqual(statesBefore(to), expected, `into ${to}`);
    }
    assert.deepEqual(statesBefore(QUEUED), [PREPARING, WAITING, PROCESSING], 'back to the queue only from an active state');
    for (const f of FAILURES) assert.deepEqual(statesBefore(f), [QUEUED, PREPARING, WAITING, PROCESSING], `any open state may fail (${f})`);
  });
});
