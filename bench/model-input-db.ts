// Conversation.modelInput end to end (issue 14): a 50-message conversation with
// 10 attachments (4 CSV, 2 plain text, 2 PNG, 2 PDF), uploaded through the
// presigned route and processed by the workers, read as each provider's input
// over GraphQL/HTTP with signed URLs. The baseline, interleaved in the same run,
// is the same conversation's `messages(first: 50)` with id, seq, role and text:
// what any reader of the history pays. Both are full HTTP requests to the same
// server; each figure is the median of ROUNDS calls.
// Goal: modelInput within MAX_RATIO of the history query, in every format.
//
//   npx tsx bench/model-input-db.ts        BENCH_ROUNDS=41 npx tsx bench/model-input-db.ts
import sharp from "sharp";
import { log, round, runBench } from "./_support.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const MESSAGES = 50;
const MAX_RATIO = 5;
const FORMATS = ["OPENAI_CHAT", "OPENAI_RESPONSES", "ANTHROPIC_MESSAGES"] as const;

const pdf = (text: string) => {
  // A one-page PDF with a text object, small enough to write by hand.
  const stream = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
  ];
  let body = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(body.length);
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = body.length;
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body);
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await runBench(
  "model-input-db",
  async (env, summary) => {
    await env.deps.startWorkers(0.5);
    const room = (
      await env.gql<{ createRoom: { id: string } }>(`mutation($s: ID!) { createRoom(input: { spaceId: $s, name: "bench" }) { id } }`, { s: env.spaceId })
    ).createRoom.id;
    const conv = (
      await env.gql<{ createConversation: { id: string } }>(`mutation($r: ID!) { createConversation(input: { roomId: $r, title: "bench" }) { id } }`, {
        r: room,
      })
    ).createConversation.id;

    const png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: { r: 10, g: 120, b: 200 } } })
      .png()
      .toBuffer();
    const files: { name: string; type: string; bytes: Buffer }[] = [
      ...[0, 1, 2, 3].map((i) => ({ name: `table-${i}.csv`, type: "text/csv", bytes: Buffer.from(`id,name,qty\n${"1,apple,3\n".repeat(20 + i * 50)}`) })),
      ...[0, 1].map((i) => ({ name: `notes-${i}.txt`, type: "text/plain", bytes: Buffer.from(`Notes ${i}: ${"lorem ipsum ".repeat(100)}`) })),
      ...[0, 1].map((i) => ({ name: `photo-${i}.png`, type: "image/png", bytes: png })),
      ...[0, 1].map((i) => ({ name: `report-${i}.pdf`, type: "application/pdf", bytes: pdf(`Quarterly report ${i}`) })),
    ];
    const attachmentIds: string[] = [];
    for (const f of files) {
      const up = (
        await env.gql<{ createAttachmentUpload: { attachmentId: string; url: string; headers: Record<string, string> } }>(
          `mutation($i: CreateAttachmentUploadInput!) { createAttachmentUpload(input: $i) { attachmentId url headers } }`,
          { i: { conversationId: conv, filename: f.name, mimeType: f.type, size: f.bytes.length } },
        )
      ).createAttachmentUpload;
      const headers = Object.fromEntries(Object.entries(up.headers).filter(([k]) => k.toLowerCase() !== "content-length"));
      const put = await fetch(up.url, { method: "PUT", headers, body: new Uint8Array(f.bytes) });
      if (put.status !== 200) throw new Error(`PUT ${f.name}: ${put.status} ${await put.text()}`);
      attachmentIds.push(up.attachmentId);
    }
    const post = `mutation($c: ID!, $t: String, $a: [ID!]) { postMessage(input: { conversationId: $c, text: $t, attachmentIds: $a }) { seq } }`;
    for (let i = 0; i < MESSAGES; i++) {
      // Every fifth message carries two of the attachments.
      const a = i % 5 === 0 ? attachmentIds.slice((i / 5) * 2, (i / 5) * 2 + 2) : [];
      await env.gql(post, { c: conv, t: `Message ${i}: ${"a few words of context ".repeat(1 + (i % 7))}`, a });
    }
    // Processing (text, page images, dimensions) settles before the agent reads.
    const t0 = performance.now();
    for (;;) {
      const { rows } = await env.sql.query<{ open: string }>(
        `SELECT count(*)::text AS open FROM processing_steps s JOIN attachments a ON a.blob_id = s.blob_id
        WHERE a.conversation_id = $1 AND s.status NOT IN ('DONE', 'SKIPPED', 'FAILED')`,
        [conv],
      );
      if (rows[0]!.open === "0") break;
      if (performance.now() - t0 > 60_000) throw new Error("processing did not settle in 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }

    const history = `query($c: ID!) { conversation(id: $c) { messages(first: ${MESSAGES}) { edges { node { id seq role text } } } } }`;
    const modelInput = `query($c: ID!, $f: ModelInputFormat!) { conversation(id: $c) { modelInput(format: $f, vision: true, imageDelivery: URL) } }`;
    const time = async (query: string, variables: Record<string, unknown>) => {
      const started = performance.now();
      const data = await env.gql<{ conversation: Record<string, unknown> }>(query, variables);
      return { ms: performance.now() - started, data };
    };
    // Warm-up: the first modelInput makes and stores the image variants.
    for (const f of FORMATS) {
      const { data } = await time(modelInput, { c: conv, f });
      const text = JSON.stringify(data);
      if (!text.includes("table-0.csv") || !text.includes("Quarterly report 0")) throw new Error(`${f}: the turn lacks its attachments: ${text.slice(0, 500)}`);
    }
    const samples: Record<string, number[]> = { history: [], ...Object.fromEntries(FORMATS.map((f) => [f, []])) };
    for (let r = 0; r < ROUNDS; r++) {
      samples.history!.push((await time(history, { c: conv })).ms);
      for (const f of FORMATS) samples[f]!.push((await time(modelInput, { c: conv, f })).ms);
    }
    const base = median(samples.history!);
    log(`  history, messages(first: ${MESSAGES}): ${base.toFixed(2)} ms`);
    let pass = true;
    for (const f of FORMATS) {
      const ms = median(samples[f]!);
      const ratio = ms / base;
      if (ratio > MAX_RATIO) pass = false;
      log(`  modelInput ${f}: ${ms.toFixed(2)} ms, ${ratio.toFixed(2)}x the history query (goal <= ${MAX_RATIO}x)`);
      summary[f] = { ms: round(ms, 2), ratio: round(ratio, 2) };
    }
    summary.historyMs = round(base, 2);
    return pass;
  },
  { env: { CONVERSATION_POST_LIMIT: "1000" } },
);
