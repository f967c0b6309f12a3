// Imported first by the entrypoints (main.ts, worker.ts, cli.ts), before any other module
// is evaluated. On Node 22.1+ this keeps V8's compiled code of every loaded module on disk
// (in the OS temp directory), so later starts skip most of the parsing and compiling that
// dominates start-up; Node 20 has no such cache and this does nothing. NODE_COMPILE_CACHE
// (a directory) overrides where it goes; NODE_DISABLE_COMPILE_CACHE=1 turns it off.
import module from "node:module";

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
