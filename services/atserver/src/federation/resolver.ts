// Where another atSign's atServer is: asked of the atDirectory, cached briefly.
import {
  AtServerNotFoundError,
  lookupAtServer,
  type AtServerAddress,
} from "@atplatform/protocol/src/core";

const CACHE_MS = 60_000;

export class AtSignResolver {
  private readonly cache = new Map<string, { addr: AtServerAddress; until: number }>();

  constructor(
    private readonly root: AtServerAddress,
    private readonly ca: Buffer | undefined,
    private readonly now: () => number,
  ) {}

  async resolve(atSign: string): Promise<AtServerAddress> {
    const hit = this.cache.get(atSign);
    if (hit && hit.until > this.now()) return hit.addr;
    const addr = await lookupAtServer(atSign, { ...this.root, ca: this.ca, timeoutMs: 5000 });
    if (!addr) throw new AtServerNotFoundError(`${atSign} does not exist in the atDirectory`);
    this.cache.set(atSign, { addr, until: this.now() + CACHE_MS });
    return addr;
  }
}
