// The process logger (pino). JSON lines for machines (a pipe, a file, a container's log
// driver); one readable line per entry when the destination is a terminal. The readable
// form is a small formatter over pino's own JSON, written synchronously, so both forms
// carry the same fields and a terminal costs no worker thread or extra dependency.
import { isatty } from "node:tty";
import { inspect } from "node:util";
import pino from "pino";
import type { Logger } from "./deps.ts";

export type LoggerOptions = {
  level: string;
  /** 1 (stdout, the default) or 2 (stderr: the CLI, whose stdout carries results). */
  fd?: 1 | 2;
  /** Readable lines instead of JSON; by default when `fd` is a terminal. */
  pretty?: boolean;
  /** Colours in the readable form; by default when pretty. */
  colors?: boolean;
};

export type AppLogger = Logger & pino.Logger;

export function createLogger(options: LoggerOptions): AppLogger {
  const fd = options.fd ?? 1;
  const pretty = options.pretty ?? isatty(fd);
  if (!pretty) return pino({ level: options.level }, pino.destination({ fd, sync: true }));
  const format = prettyFormatter({ colors: options.colors ?? true });
  const out = pino.destination({ fd, sync: true });
  return pino({ level: options.level }, { write: (line: string) => void out.write(format(line)) });
}

const LEVELS: Record<number, [name: string, color: number]> = {
  10: ["TRACE", 90],
  20: ["DEBUG", 36],
  30: ["INFO ", 32],
  40: ["WARN ", 33],
  50: ["ERROR", 31],
  60: ["FATAL", 35],
};
const OMIT = new Set(["level", "time", "pid", "hostname", "msg", "err"]);

/** Turns one pino JSON line into `HH:MM:SS.mmm LEVEL message key=value …`, with an error's stack below. */
export function prettyFormatter(options: { colors: boolean }): (line: string) => string {
  const paint = (code: number, text: string) => (options.colors ? `\u001b[${code}m${text}\u001b[39m` : text);
  return (line) => {
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      return line;
    }
    const [name, color] = LEVELS[entry.level as number] ?? [String(entry.level), 39];
    const time = new Date(entry.time as number).toISOString().slice(11, 23);
    const fields = Object.entries(entry)
      .filter(([k]) => !OMIT.has(k))
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : inspect(v, { breakLength: Number.POSITIVE_INFINITY, depth: 4, colors: false })}`);
    let out = `${paint(90, time)} ${paint(color, name)} ${entry.msg ?? ""}${fields.length ? ` ${paint(90, fields.join(" "))}` : ""}\n`;
    const err = entry.err as { stack?: string; message?: string } | undefined;
    if (err) out += `${(err.stack ?? err.message ?? String(err)).replace(/^/gm, "    ")}\n`;
    return out;
  };
}
