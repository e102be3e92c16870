// Requests counted and timed in plain structures, read by the metrics only when /metrics is scraped. prom-client's
// inc() and observe() check and hash the labels on every call (about 15 µs a request measured on the cached-lookup
// path); here a request costs two Map lookups and a few additions.

/** One route and method: its requests by status, and its durations as a histogram. */
export interface RequestTallyEntry {
  route: string;
  method: string;
  /** Requests answered, by status. */
  statuses: Map<number, number>;
  /** Requests at most each bound long (not cumulative); the last slot holds those longer than every bound. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

export class RequestTally {
  private readonly byRoute = new Map<string, Map<string, RequestTallyEntry>>();

  /** `bounds` in seconds, ascending (a request of exactly a bound's length counts in that bound's bucket). */
  constructor(readonly bounds: readonly number[]) {}

  record(route: string, method: string, status: number, seconds: number): void {
    let methods = this.byRoute.get(route);
    if (methods === undefined) this.byRoute.set(route, (methods = new Map()));
    let entry = methods.get(method);
    if (entry === undefined) {
      entry = { route, method, statuses: new Map(), buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      methods.set(method, entry);
    }
    entry.statuses.set(status, (entry.statuses.get(status) ?? 0) + 1);
    const { bounds } = this;
    let bucket = 0;
    while (bucket < bounds.length && seconds > bounds[bucket]!) bucket++;
    entry.buckets[bucket]!++;
    entry.sum += seconds;
    entry.count++;
  }

  /** Every route and method seen, in the order first seen. */
  *entries(): IterableIterator<RequestTallyEntry> {
    for (const methods of this.byRoute.values()) yield* methods.values();
  }
}
