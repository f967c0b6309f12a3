// Turn assembly cost: buildModelInput for a 50-message conversation with 10
// attachments (3 images, 2 PDFs with a page image, 3 CSVs (one over the inline
// limit), a DOCX, a zip), in each format, with URL and BASE64 delivery, beside
// the obvious minimum on the same messages: mapping each to { role, content: text }
// and JSON.stringify (what any caller pays to send a conversation). Both include
// JSON.stringify of their output. No database, no store: the source signs URLs
// as a constant string and returns a 64 KiB buffer per variant, so the bench
// measures the assembly (and base64 encoding), not presigning or store reads.
//
//   npx tsx bench/model-input.ts          BENCH_MODEL_INPUT_ROUNDS=9 npx tsx bench/model-input.ts
//
// Rounds alternate between the cases; each is reported by its best round.
// Exits 1 when an assembly takes more than MAX_MS, or its output is wrong.
import {
  type AttachmentSource,
  buildModelInput,
  type InputAttachment,
  type InputMessage,
  type ModelInputFormat,
} from "../src/modules/model-input/model-input.ts";

const log = (line: string) => process.stdout.write(`${line}\n`);
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

const ROUNDS = positiveInt(process.env.BENCH_MODEL_INPUT_ROUNDS, 7);
const CALLS_PER_ROUND = 200;
/** Budget of one assembly (URL delivery): generous, it guards against accidental quadratic work. */
const MAX_MS = 5;

function positiveInt(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got "${raw}"`);
  return n;
}

const done = { status: "DONE" } as const;
function attachments(): InputAttachment[] {
  const base = { processing: done, retentionExpired: false };
  const csv = (i: number, rows: number): InputAttachment => {
    const content = ["id,name,amount", ...Array.from({ length: rows }, (_, r) => `${r},item ${r},${(r * 17.5).toFixed(2)}`)].join("\n");
    return {
      ...base,
      id: `att_csv${i}`,
      filename: `data-${i}.csv`,
      mimeType: "text/csv",
      size: Buffer.byteLength(content),
      text: { content, truncated: false },
    };
  };
  const pdf = (i: number): InputAttachment => ({
    ...base,
    id: `att_pdf${i}`,
    filename: `report-${i}.pdf`,
    mimeType: "application/pdf",
    size: 400_000,
    text: { content: "Quarterly report. ".repeat(500), truncated: false },
    pdf: { pageCount: 12, pageImages: [{ page: 1, width: 1109, height: 1568 }] },
  });
  return [
    ...[0, 1, 2].map(
      (i): InputAttachment => ({
        ...base,
        id: `att_img${i}`,
        filename: `photo-${i}.jpg`,
        mimeType: "image/jpeg",
        size: 3_000_000,
        image: { width: 4000, height: 3000 },
      }),
    ),
    pdf(0),
    pdf(1),
    csv(0, 20),
    csv(1, 50),
    csv(2, 5000), // ~100 KiB: cut at the 32 KiB default
    {
      ...base,
      id: "att_docx",
      filename: "notes.docx",
      mimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      size: 20_000,
      text: { content: "Notes. ".repeat(300), truncated: false },
    },
    { ...base, id: "att_zip", filename: "src.zip", mimeType: "application/zip", size: 5_000_000, processing: { status: "SKIPPED" } },
  ];
}

function conversation(): InputMessage[] {
  const files = attachments();
  return Array.from({ length: 50 }, (_, i): InputMessage => {
    const user = i % 2 === 0;
    return {
      seq: i + 1,
      role: user ? "USER" : "AGENT",
      authorName: user ? (i % 4 === 0 ? "Alice" : "Bob") : "Agent",
      text: `${user ? "Question" : "Answer"} ${i}: ${"lorem ipsum dolor sit amet ".repeat(18)}`,
      deleted: false,
      status: "COMPLETE",
      attachments: user && i % 10 === 0 ? files.splice(0, 2) : [],
    };
  });
}

const variantBytes = Buffer.alloc(64 * 1024, 7);
const source: AttachmentSource = {
  signedUrl: (a) => `https://bucket.s3.example.com/${a.id}?X-Amz-Signature=0000000000000000000000000000000000000000000000000000000000000000`,
  readBytes: async () => ({ data: variantBytes, mimeType: "image/webp" }),
};

type Case = { name: string; run: () => Promise<string>; best: number };

async function main(): Promise<number> {
  const summary: Record<string, unknown> = { bench: "model-input", rounds: ROUNDS, callsPerRound: CALLS_PER_ROUND, maxMs: MAX_MS };
  let failed = false;
  try {
    const messages = conversation();
    const attached = messages.reduce((n, m) => n + m.attachments.length, 0);
    if (attached !== 10) throw new Error(`fixture has ${attached} attachments, expected 10`);

    const naive: Case = {
      name: "naive map + stringify",
      best: Number.POSITIVE_INFINITY,
      run: async () => JSON.stringify({ messages: messages.map((m) => ({ role: m.role === "USER" ? "user" : "assistant", content: m.text })) }),
    };
    const cases: Case[] = [naive];
    for (const format of ["OPENAI_CHAT", "OPENAI_RESPONSES", "ANTHROPIC_MESSAGES"] as ModelInputFormat[]) {
      for (const imageDelivery of ["URL", "BASE64"] as const) {
        cases.push({
          name: `${format} ${imageDelivery}`,
          best: Number.POSITIVE_INFINITY,
          run: async () => JSON.stringify(await buildModelInput(messages, source, { format, vision: true, imageDelivery })),
        });
      }
    }

    // Sanity: every image and page image is there, the big CSV was cut.
    for (const c of cases.slice(1)) {
      const json = await c.run();
      const images = (json.match(/att_img\d|att_pdf\d\/|"data":"|data:image\/webp/g) ?? []).length;
      if (!json.includes('truncated=\\"true\\"') || images < 5) throw new Error(`${c.name}: unexpected output (${images} image references)`);
    }

    for (const c of cases) for (let i = 0; i < 20; i++) await c.run(); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of cases) {
        const t0 = performance.now();
        for (let i = 0; i < CALLS_PER_ROUND; i++) await c.run();
        c.best = Math.min(c.best, (performance.now() - t0) / CALLS_PER_ROUND);
      }
    }

    log(`  50 messages, 10 attachments, vision on, ${ROUNDS} rounds of ${CALLS_PER_ROUND} calls, best round`);
    const results: Record<string, unknown> = {};
    for (const c of cases) {
      const ratio = c.best / naive.best;
      log(`  ${c.name.padEnd(28)} ${c.best.toFixed(3).padStart(7)} ms  ratio to naive ${ratio.toFixed(1)}`);
      results[c.name] = { ms: round(c.best), ratio: round(ratio, 1) };
      if (c !== naive && c.name.endsWith("URL") && c.best > MAX_MS) {
        failed = true;
        log(`  FAIL: ${c.name} takes ${c.best.toFixed(3)} ms, over ${MAX_MS} ms`);
      }
    }
    summary.results = results;
  } catch (e) {
    failed = true;
    summary.error = (e as Error)?.message ?? String(e);
    log(`  FAIL: ${(e as Error)?.stack ?? String(e)}`);
  }
  summary.pass = !failed;
  log(failed ? "  FAIL" : "  PASS");
  log(JSON.stringify(summary));
  return failed ? 1 : 0;
}

process.exitCode = await main();
