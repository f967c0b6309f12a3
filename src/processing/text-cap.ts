// Collects extracted text up to a byte cap. Sources hand it text piece by
// piece; once the cap is reached the rest is dropped and `truncated` is set, so
// a huge document costs at most the cap in memory (plus one piece).
import type { ExtractedText } from "./analyzer.ts";

export class TextCap {
  private readonly parts: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(private readonly maxBytes: number) {}

  get full(): boolean {
    return this.truncated;
  }

  /** Appends `piece`, cutting it at a character boundary when it crosses the cap. */
  push(piece: string): void {
    if (this.truncated || piece === "") return;
    const size = Buffer.byteLength(piece);
    if (this.bytes + size <= this.maxBytes) {
      this.parts.push(piece);
      this.bytes += size;
      return;
    }
    this.truncated = true;
    const room = this.maxBytes - this.bytes;
    const cut = Buffer.from(piece).subarray(0, room).toString("utf8");
    // A multi-byte character cut in half decodes to U+FFFD at the end: drop it.
    const clean = cut.endsWith("\uFFFD") && !piece.startsWith(cut) ? cut.slice(0, -1) : cut;
    this.parts.push(clean);
    this.bytes += Buffer.byteLength(clean);
  }

  result(): ExtractedText {
    return { text: this.parts.join(""), truncated: this.truncated, bytes: this.bytes };
  }
}
