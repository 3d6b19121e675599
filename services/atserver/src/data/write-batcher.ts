// Group commit: writes submitted in the same event-loop turn (typically from several
// connections) run in one store transaction, so one fsync acknowledges all of them. Each
// write is its own savepoint: one failing write does not undo the others. Callers answer
// their client only after the promise resolves, i.e. after the commit.
import type { KeyStore } from "../store";

interface Pending {
  run: () => unknown;
  resolve: (result: any) => void;
  reject: (err: unknown) => void;
}

export class WriteBatcher {
  private pending: Pending[] = [];
  private scheduled = false;
  /** Set by the metrics: one transaction of `writes` writes took `seconds`. */
  onCommit?: (seconds: number, writes: number) => void;

  constructor(private readonly store: KeyStore) {}

  submit<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const ops = this.pending.splice(0);
    const results: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    const started = this.onCommit ? performance.now() : 0;
    try {
      this.store.batch(() => {
        for (const op of ops) {
          try {
            results.push({ ok: true, value: this.store.batch(op.run) });
          } catch (err) {
            results.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      for (const op of ops) op.reject(err);
      return;
    }
    this.onCommit?.((performance.now() - started) / 1000, ops.length);
    ops.forEach((op, i) => {
      const r = results[i]!;
      if (r.ok) op.resolve(r.value);
      else op.reject(r.err);
    });
  }
}
