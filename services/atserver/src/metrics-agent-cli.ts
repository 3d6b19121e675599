// Entry point of the bundled per-node metrics agent (dist/metrics-agent.js), the atServer
// image's second program: swarm nodes pre-pull only the pinned atServer image, so the agent
// ships in it rather than in an image of its own (docs/operations.md).
import { main } from "./metrics-agent/main";

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
