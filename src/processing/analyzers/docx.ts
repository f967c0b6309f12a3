// DOCX text through mammoth. mammoth (JSZip) inflates the document in memory, so
// the zip's declared uncompressed size is checked first against
// `maxUnzippedBytes`; the text is then capped like every other extraction.
import { type Analyzer, AnalyzerError, asCorrupt, type DocxMetadata, isMime } from "../analyzer.ts";
import { TextCap } from "../text-cap.ts";
import { zipEntries } from "../zip-inspect.ts";

export const DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

export function docxAnalyzer(): Analyzer<DocxMetadata> {
  return {
    name: "docx",
    kind: "documents",
    timeoutMs: 60_000,
    accepts: (blob) => isMime(blob.contentType, DOCX_TYPE),
    async analyze(ctx) {
      const entries = await zipEntries(ctx.inputPath);
      if (!entries) throw new AnalyzerError("CORRUPT", "not a readable DOCX (no zip directory)");
      if (!entries.some((e) => e.name === "word/document.xml")) throw new AnalyzerError("CORRUPT", "not a DOCX: word/document.xml is missing");
      const unzipped = entries.reduce((sum, e) => sum + e.uncompressedSize, 0);
      if (unzipped > ctx.limits.maxUnzippedBytes) {
        throw new AnalyzerError("TOO_LARGE", `DOCX would unzip to ${unzipped} bytes, over the ${ctx.limits.maxUnzippedBytes} byte limit`);
      }
      ctx.progress(0.1);
      const mammoth = (await import("mammoth")).default;
      const result = await mammoth.extractRawText({ path: ctx.inputPath }).catch((e) => {
        throw asCorrupt(e, "not a readable DOCX");
      });
      const text = new TextCap(ctx.limits.maxTextBytes);
      text.push(result.value.trim());
      ctx.progress(1);
      return { metadata: { analyzer: "docx" }, files: [], text: text.result() };
    },
  };
}
