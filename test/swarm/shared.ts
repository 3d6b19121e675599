// One single-node test swarm (and its images) shared by the real-engine specs of a run:
// started on first use, stopped by the root hook after the last spec (mocha --require).
import { TestSwarm } from "../support/docker/swarm";
import { loadImages, type Images } from "./harness";

let shared: Promise<{ swarm: TestSwarm; images: Images }> | undefined;

export function sharedSwarm(): Promise<{ swarm: TestSwarm; images: Images }> {
  shared ??= (async () => {
    const swarm = await TestSwarm.start({ name: "single" });
    try {
      return { swarm, images: await loadImages(swarm) };
    } catch (err) {
      await swarm.stop();
      throw err;
    }
  })();
  return shared;
}

export const mochaHooks = {
  async afterAll(this: unknown): Promise<void> {
    if (!shared) return;
    const s = await shared.catch(() => undefined);
    shared = undefined;
    await s?.swarm.stop();
  },
};
