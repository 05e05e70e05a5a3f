import { describe, expect, it } from 'vitest';
import { VirtualClock, realClock } from '../../src/hw/quac100/clock.js';

describe('VirtualClock: discrete-event time for the emulated card', () => {
  it('auto mode: sleepers wake in deadline order, ties in the order they slept, each at its own deadline', async () => {
    const clock = new VirtualClock({ start: 100 });
    const woke: string[] = [];
    const at = (name: string, ms: number) => clock.sleep(ms).then(() => woke.push(`${name}@${clock.now()}`));
    await Promise.all([at('c', 3), at('a', 1), at('b1', 2), at('b2', 2)]);
    expect(woke).toEqual(['a@101', 'b1@102', 'b2@102', 'c@103']);
    expect(clock.pending).toBe(0);
  });

  it('a sleeper that sleeps again after waking is ordered against those still waiting', async () => {
    const clock = new VirtualClock();
    const woke: string[] = [];
    await Promise.all([
      clock.sleep(1).then(() => clock.sleep(5)).then(() => woke.push(`chain@${clock.now()}`)),
      clock.sleep(4).then(() => woke.push(`single@${clock.now()}`)),
    ]);
    expect(woke).toEqual(['single@4', 'chain@6']);
  });

  it('sleep(0) and negative sleeps resolve without moving time', async () => {
    const clock = new VirtualClock();
    await clock.sleep(0);
    await clock.sleep(-5);
    expect(clock.now()).toBe(0);
  });

  it('manual mode: time moves only by advance(), which wakes the due sleepers in order', async () => {
    const clock = new VirtualClock({ auto: false });
    const woke: number[] = [];
    void clock.sleep(10).then(() => woke.push(clock.now()));
    void clock.sleep(30).then(() => woke.push(clock.now()));
    await clock.advance(5);
    expect([clock.now(), woke]).toEqual([5, []]);
    await clock.advance(20);
    expect([clock.now(), woke]).toEqual([25, [10]]);
    await clock.advance(5);
    expect([clock.now(), woke]).toEqual([30, [10, 30]]);
  });
});

describe('cancellable sleeps (key rotation releases its grace timer on close)', () => {
  it('an aborted sleep rejects with the reason and leaves no timer behind, on virtual and real time', async () => {
    const clock = new VirtualClock({ auto: false });
    const abort = new AbortController();
    const slept = clock.sleep(1000, abort.signal);
    expect(clock.pending).toBe(1);
    abort.abort(new Error('closed'));
    await expect(slept).rejects.toThrow('closed');
    expect(clock.pending).toBe(0);
    await expect(clock.sleep(1, abort.signal)).rejects.toThrow('closed');
    // A day-long real timer, cancelled: the test ends at once instead of hanging on it.
    const real = new AbortController();
    const day = realClock.sleep(86_400_000, real.signal);
    real.abort(new Error('closed'));
    await expect(day).rejects.toThrow('closed');
  });
});
