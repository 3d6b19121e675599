// Coalesces the lookups of one event-loop turn into MGET commands. Every socket read of
// the turn adds its atSigns; one MGET per (up to) maxKeys distinct keys then answers them
// all. A Redis command costs ioredis far more CPU than a key in a command does, so under
// load this cuts the client-side cost per lookup several times; when idle a batch holds
// one key and the only delay is the rest of the current turn.

export type MultiGet = (keys: string[]) => Promise<(string | null)[]>;

interface Waiter {
  resolve(value: string | null): void;
  reject(err: unknown): void;
}

export class GetBatcher {
  private pending = new Map<string, Waiter[]>();
  private scheduled = false;

  constructor(
    private readonly mget: MultiGet,
    private readonly maxKeys = 256,
  ) {}

  get(key: string): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const waiters = this.pending.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not nextTick: the batch collects the reads of every socket that
        // became readable in this turn, not just the current one.
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Map();
    let chunk: [string, Waiter[]][] = [];
    for (const entry of batch) {
      chunk.push(entry);
      if (chunk.length === this.maxKeys) {
        this.send(chunk);
        chunk = [];
      }
    }
    if (chunk.length > 0) this.send(chunk);
  }

  private send(chunk: [string, Waiter[]][]): void {
    let reply: Promise<(string | null)[]>;
    try {
      reply = this.mget(chunk.map(([key]) => key));
    } catch (err) {
      reply = Promise.reject(err);
    }
    reply.then(
      (values) => {
        chunk.forEach(([, waiters], i) => {
          for (const w of waiters) w.resolve(values[i] ?? null);
        });
      },
      (err: unknown) => {
        for (const [, waiters] of chunk) for (const w of waiters) w.reject(err);
      },
    );
  }
}
