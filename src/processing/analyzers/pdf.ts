// PDFs through pdf-parse (pdf.js): page count, title and author, text page by
// page up to the text cap, and the first page rendered as an image. pdf.js reads
// the file through a file: URL in ranges, so the document is not loaded whole
// by us; text is fetched in batches of pages and stops at the cap.
import { pathToFileURL } from "node:url";
import { type Analyzer, AnalyzerError, asCorrupt, type DerivedFile, isMime, type PdfMetadata } from "../analyzer.ts";
import { decodeRaw, fitInside, fromRaw, thumbnailSet, writeWebp } from "../derived-files.ts";
import { TextCap } from "../text-cap.ts";
import sharp from "sharp";

const PAGES_PER_BATCH = 20;
/** Long edge of the rendered page image ("page:1"): the size vision models read best (Anthropic's 1568). */
export const PAGE_IMAGE_EDGE = 1568;

export function pdfAnalyzer(): Analyzer<PdfMetadata> {
  return {
    name: "pdf",
    kind: "documents",
    timeoutMs: 120_000,
    accepts: (blob) => isMime(blob.contentType, "application/pdf"),
    async analyze(ctx) {
      const { PDFParse, PasswordException } = await import("pdf-parse");
      const parser = new PDFParse({
        url: pathToFileURL(ctx.inputPath),
        verbosity: 0,
        isEvalSupported: false, // no code generated from font programs in the document
        maxImageSize: ctx.limits.maxInputPixels,
        useSystemFonts: false,
      });
      const destroy = () => void parser.destroy().catch(() => {});
      ctx.signal.addEventListener("abort", destroy, { once: true });
      try {
        const info = await parser.getInfo({ parsePageInfo: true, partial: [1] }).catch((e) => {
          if (e instanceof PasswordException) throw new AnalyzerError("CORRUPT", "the PDF is password-protected");
          throw asCorrupt(e, "not a readable PDF");
        });
        const pages = info.total;
        ctx.progress(0.05);

        const text = new TextCap(ctx.limits.maxTextBytes);
        for (let first = 1; first <= pages && !text.full; first += PAGES_PER_BATCH) {
          const last = Math.min(pages, first + PAGES_PER_BATCH - 1);
          const batch = await parser.getText({ first, last, pageJoiner: "" }).catch((e) => {
            throw asCorrupt(e, `PDF pages ${first}-${last} could not be read`);
          });
          for (const page of batch.pages) text.push(page.num === 1 ? page.text : `\n\n${page.text}`);
          ctx.progress(0.05 + 0.65 * (last / pages));
        }

        const files: DerivedFile[] = [];
        let placeholder: string | undefined;
        const page1 = info.pages[0];
        if (pages > 0 && page1 && page1.width > 0 && page1.height > 0) {
          const scale = PAGE_IMAGE_EDGE / Math.max(page1.width, page1.height);
          const shot = await parser.getScreenshot({ partial: [1], scale, imageDataUrl: false, imageBuffer: true }).catch((e) => {
            throw asCorrupt(e, "PDF page 1 could not be rendered");
          });
          const png = shot.pages[0]?.data;
          if (png) {
            // Flatten on white: pages render with a transparent background where the PDF paints none.
            const decoded = await decodeRaw(sharp(png).flatten({ background: "#ffffff" }).resize(fitInside(PAGE_IMAGE_EDGE)));
            files.push(await writeWebp(fromRaw(decoded), ctx.workDir, "page:1"));
            const set = await thumbnailSet(decoded, ctx.workDir);
            files.push(...set.files);
            placeholder = set.thumbhash;
          }
        }
        ctx.progress(1);

        const metadata: PdfMetadata = { analyzer: "pdf", pages };
        const title = infoText(info.info?.Title);
        const author = infoText(info.info?.Author);
        if (title) metadata.title = title;
        if (author) metadata.author = author;
        return { metadata, files, text: text.result(), ...(placeholder ? { placeholder: { kind: "thumbhash", base64: placeholder } } : {}) };
      } finally {
        ctx.signal.removeEventListener("abort", destroy);
        await parser.destroy().catch(() => {});
      }
    },
  };
}

const infoText = (v: unknown) => (typeof v === "string" && v.trim() ? v.trim().slice(0, 500) : undefined);
