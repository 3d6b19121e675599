// Entry point of the per-node metrics agent (dist/metrics-agent.js in the atServer image;
// docs/operations.md). Logs are JSON lines on stderr; SIGTERM stops it.
import { AgentConfigError, agentConfigFromEnv } from "./config";
import { MetricsAgent } from "./agent";

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(`${JSON.stringify({ time: Date.now(), msg, ...fields })}\n`);
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let cfg;
  try {
    cfg = agentConfigFromEnv(env);
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const agent = new MetricsAgent(cfg, log);
  const port = await agent.start();
  log("metrics agent listening", { host: cfg.host, port });
  await new Promise<void>((resolve) => {
    const stop = () => void agent.stop().then(resolve);
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
