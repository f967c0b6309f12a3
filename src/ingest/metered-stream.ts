// Counts and hashes bytes as they stream past, and fails the stream the moment
// it crosses `limitBytes`, so an oversized upload is cut off mid-stream instead
// of being stored first and rejected after.
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { AppError } from "../errors.ts";

export class MeteredStream extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash("sha256");
  private digest?: string;

  constructor(
    private readonly limitBytes: number,
    private readonly onLimit: (limit: number) => AppError,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limitBytes) return done(this.onLimit(this.limitBytes));
    this.hash.update(chunk);
    done(null, chunk);
  }

  /** Hex sha256 of everything that passed; call after the stream finished. */
  sha256(): string {
    this.digest ??= this.hash.digest("hex");
    return this.digest;
  }
}
