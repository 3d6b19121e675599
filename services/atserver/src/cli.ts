// Entry point of the bundled atServer (`npm run bundle -w services/atserver` writes
// dist/atserver.js; the container image runs it). Plain JavaScript starts in about half
// the time of transpiling the sources through tsx, which the bin does for development.
import { main } from "./main";

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
