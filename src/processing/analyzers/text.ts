// Plain text, Markdown, CSV and JSON, read as a stream: the encoding is found
// from a byte order mark (UTF-8, UTF-16 LE/BE), else the bytes are tried as
// UTF-8 and, at the first invalid sequence, read again as latin1 (ISO-8859-1,
// which decodes any byte). Text is kept up to the cap; lines and CSV records are
// counted over the whole file; JSON is parsed for validity when small enough.
import { type Analyzer, type AnalyzerContext, isMime, type TextMetadata } from "../analyzer.ts";
import { CsvCounter } from "../csv-counter.ts";
import { TextCap } from "../text-cap.ts";

type Encoding = TextMetadata["encoding"];

const CSV_TYPES = ["text/csv", "application/csv"];
const JSON_TYPES = ["application/json", "text/json"];

export function textAnalyzer(): Analyzer<TextMetadata> {
  return {
    name: "text",
    kind: "documents",
    timeoutMs: 60_000,
    accepts: (blob) => blob.contentType.toLowerCase().startsWith("text/") || isMime(blob.contentType, ...JSON_TYPES, ...CSV_TYPES),
    async analyze(ctx) {
      const bom = await detectBom(ctx);
      const encoding: Encoding = bom ?? "utf-8";
      const scanned = (await scan(ctx, encoding, !bom)) ?? (await scan(ctx, "latin1", false));
      if (!scanned) throw new Error("latin1 decoding cannot fail"); // unreachable: latin1 accepts every byte
      return scanned;
    },
  };
}

async function detectBom(ctx: AnalyzerContext): Promise<Encoding | undefined> {
  for await (const chunk of ctx.openInput().iterator({ destroyOnReturn: true })) {
    const head = chunk as Buffer;
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return "utf-8";
    if (head[0] === 0xff && head[1] === 0xfe) return "utf-16le";
    if (head[0] === 0xfe && head[1] === 0xff) return "utf-16be";
    return undefined;
  }
  return undefined;
}

/** One pass over the input; null when `strictUtf8` and the bytes are not UTF-8. */
async function scan(ctx: AnalyzerContext, encoding: Encoding, strictUtf8: boolean) {
  const { contentType, size } = ctx.blob;
  const text = new TextCap(ctx.limits.maxTextBytes);
  const csv = isMime(contentType, ...CSV_TYPES) ? new CsvCounter() : undefined;
  const isJson = isMime(contentType, ...JSON_TYPES);
  const jsonParts: string[] | undefined = isJson && size <= ctx.limits.maxJsonValidateBytes ? [] : undefined;
  // TextDecoder drops a leading BOM by itself; latin1 has none.
  const decoder = encoding === "latin1" ? undefined : new TextDecoder(encoding, { fatal: strictUtf8 });
  let newlines = 0;
  let lastChar = "";
  let read = 0;

  const take = (s: string) => {
    if (s === "") return;
    text.push(s);
    csv?.push(s);
    jsonParts?.push(s);
    for (let i = s.indexOf("\n"); i !== -1; i = s.indexOf("\n", i + 1)) newlines++;
    lastChar = s[s.length - 1]!;
  };

  const stream = ctx.openInput();
  try {
    for await (const chunk of stream) {
      ctx.signal.throwIfAborted();
      const bytes = chunk as Buffer;
      read += bytes.length;
      take(decoder ? decoder.decode(bytes, { stream: true }) : bytes.toString("latin1"));
      ctx.progress(size > 0 ? read / size : 1);
    }
    if (decoder) take(decoder.decode());
  } catch (e) {
    if (strictUtf8 && e instanceof TypeError && !ctx.signal.aborted) return null; // not UTF-8: the caller retries as latin1
    throw e;
  } finally {
    stream.destroy();
  }

  const metadata: TextMetadata = { analyzer: "text", encoding, lines: read === 0 ? 0 : newlines + (lastChar === "\n" ? 0 : 1) };
  if (csv) metadata.csv = csv.finish();
  if (isJson) metadata.json = { valid: jsonParts ? isValidJson(jsonParts.join("")) : null };
  ctx.progress(1);
  return { metadata, files: [], text: text.result() };
}

function isValidJson(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}
