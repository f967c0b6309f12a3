// Counts CSV records and columns as text streams through (RFC 4180: fields may
// be quoted, quotes inside are doubled, quoted fields may hold commas and line
// breaks; records end with CRLF, LF or CR). Blank lines are not records.
// `columns` is the field count of the first record (the header, usually).
const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

export class CsvCounter {
  rows = 0;
  columns = 0;
  private fields = 1;
  // start: at a field's start; unquoted/quoted: inside one; quote: a quote inside a quoted field (closing, or the first of "").
  private state: "start" | "unquoted" | "quoted" | "quote" = "start";
  private recordHasContent = false;
  private skipLf = false;

  push(chunk: string): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.skipLf) {
        this.skipLf = false;
        if (c === LF) continue;
      }
      if (this.state === "quoted") {
        if (c === QUOTE) this.state = "quote";
        continue; // commas and line breaks inside quotes are data
      }
      if (this.state === "quote") {
        if (c === QUOTE) {
          this.state = "quoted"; // "" is an escaped quote
          continue;
        }
        this.state = "unquoted"; // the field's closing quote; c is handled below
      }
      if (c === COMMA) {
        this.fields++;
        this.state = "start";
        this.recordHasContent = true;
      } else if (c === LF || c === CR) {
        this.endRecord();
        this.skipLf = c === CR;
      } else {
        this.state = c === QUOTE && this.state === "start" ? "quoted" : "unquoted";
        this.recordHasContent = true;
      }
    }
  }

  /** Ends the last record (files need not end with a line break). */
  finish(): { rows: number; columns: number } {
    this.endRecord();
    return { rows: this.rows, columns: this.columns };
  }

  private endRecord(): void {
    if (this.recordHasContent) {
      this.rows++;
      if (this.rows === 1) this.columns = this.fields;
    }
    this.fields = 1;
    this.state = "start";
    this.recordHasContent = false;
  }
}
