/**
 * The endpoint's connection timers (what quinn's `Endpoint` leaves to a timer
 * per connection in its driver): a binary min-heap of (deadline, item) with
 * lazy invalidation. Each item's current deadline is kept beside it; a node
 * whose deadline is no longer its item's is stale and skipped when it comes
 * up, so moving a deadline is one push, O(log n), and finding the earliest is
 * O(1) amortised, where scanning every connection was O(n) per call.
 *
 * Stale nodes are bounded: past twice the live items (plus slack) the heap is
 * rebuilt from the live ones, O(n) paid once per n pushes.
 */
export class TimerHeap<T extends object> {
  private readonly at: number[] = [];
  private readonly items: T[] = [];
  private readonly deadlines = new Map<T, number>();

  /** Items with a deadline. */
  get size(): number {
    return this.deadlines.size;
  }

  /** Nodes held, stale ones included (for tests of the bound). */
  get nodes(): number {
    return this.at.length;
  }

  /** Sets `item`'s deadline (undefined: none). */
  set(item: T, deadline: number | undefined): void {
    const old = this.deadlines.get(item);
    if (old === deadline) return;
    if (deadline === undefined) {
      this.deadlines.delete(item);
      return;
    }
    this.deadlines.set(item, deadline);
    this.push(deadline, item);
    if (this.at.length > 2 * this.deadlines.size + 64) this.rebuild();
  }

  /** The earliest deadline, or undefined. */
  peek(): number | undefined {
    this.skipStale();
    return this.at[0];
  }

  /** Removes and returns an item whose deadline is at or before `now` (its deadline is cleared), or undefined. */
  popDue(now: number): T | undefined {
    this.skipStale();
    const top = this.at[0];
    if (top === undefined || top > now) return undefined;
    const item = this.items[0] as T;
    this.pop();
    this.deadlines.delete(item);
    return item;
  }

  private skipStale(): void {
    while (this.at.length && this.deadlines.get(this.items[0] as T) !== this.at[0]) this.pop();
  }

  private rebuild(): void {
    this.at.length = 0;
    this.items.length = 0;
    for (const [item, deadline] of this.deadlines) this.push(deadline, item);
  }

  private push(deadline: number, item: T): void {
    const { at, items } = this;
    let i = at.length;
    at.push(deadline);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((at[parent] as number) <= deadline) break;
      at[i] = at[parent] as number;
      items[i] = items[parent] as T;
      i = parent;
    }
    at[i] = deadline;
    items[i] = item;
  }

  private pop(): void {
    const { at, items } = this;
    const lastAt = at.pop() as number;
    const lastItem = items.pop() as T;
    const n = at.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && (at[child + 1] as number) < (at[child] as number)) child++;
      if ((at[child] as number) >= lastAt) break;
      at[i] = at[child] as number;
      items[i] = items[child] as T;
      i = child;
    }
    at[i] = lastAt;
    items[i] = lastItem;
  }
}
