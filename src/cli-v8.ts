// Imported first by cli.ts, so it runs before any other module is evaluated.
// A CLI command lives for well under a second; Prisma's query compiler is
// WebAssembly, and V8's background tier-up of it (TurboFan) outlives the work:
// the process then waited 0.3-1.5 s after process.exit() for that compilation.
// Baseline (Liftoff) code is all a one-shot command needs (decision 45).
import v8 from "node:v8";

v8.setFlagsFromString("--liftoff-only");
