// What the rest of Cabinet imports from processing/.
export * from "./analyzer.ts";
export { type AnalyzerRegistryOptions, createAnalyzerRegistry } from "./registry.ts";
export { acceptingAnalyzers, type RunContext, runAnalyzers, type StepEvent, type StepResult, type StepState } from "./runner.ts";
export type { TranscriptionConfig } from "./transcription-client.ts";
export type { MediaTools } from "./media-tools.ts";
