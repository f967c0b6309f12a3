// Conversation.modelInput: loads a conversation's messages, their attachments and
// what processing made of them, maps them to the model-input module's input
// type, and implements its AttachmentSource with the blob store: presigned URLs
// of the original (when the provider can take it as is) or of a downscaled
// variant stored once as a DERIVED blob ("model:<profile>" / "model:<profile>:page:<n>"),
// and that same stored variant's bytes for base64. An attachment past retentionAt or
// deleted is marked retentionExpired, so the assembly omits it.
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { assertRoomRead, loadConversationAccess } from "../../access/room-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import type { Blob } from "../../generated/prisma/client.ts";
import { modelImageFromStream } from "../../processing/model-image.ts";
import type { BlobStore } from "../../storage/blob-store.ts";
import type { BlobService } from "../blob/blob.service.ts";
import {
  type AttachmentSource,
  type AttachmentVariant,
  buildModelInput,
  type InputAttachment,
  type InputMessage,
  MODEL_IMAGE_TYPES,
  type ModelInputOptions,
  type ProcessingStatus,
} from "../model-input/model-input.ts";
import { isAvailable } from "./attachment.service.ts";

/** Messages read for one modelInput call at most (the newest up to upToSeq). */
export const MODEL_INPUT_MAX_MESSAGES = 500;
/** Lifetime of the URLs handed to a provider: long enough for the request, short enough to be useless later. */
export const MODEL_INPUT_URL_SECONDS = 600;

type Loaded = { blob: Blob; derived: Pick<Blob, "id" | "key" | "role" | "contentType" | "metadata">[] };

function processingStatus(steps: { status: string; error: string | null }[]): { status: ProcessingStatus; error?: string } {
  const failed = steps.find((s) => s.status === "FAILED");
  if (failed) return { status: "FAILED", ...(failed.error ? { error: failed.error } : {}) };
  if (steps.some((s) => s.status === "RUNNING")) return { status: "RUNNING" };
  if (steps.some((s) => s.status === "QUEUED")) return { status: "QUEUED" };
  return { status: "DONE" };
}

export function createAttachmentModelInput(deps: { prisma: PrismaClient; blobStore: BlobStore; blobs: BlobService; maxInputPixels?: number }) {
  const { prisma, blobStore, blobs } = deps;

  async function modelInput(viewer: Viewer, conversationId: string, options: ModelInputOptions) {
    const access = await loadConversationAccess(prisma, viewer, conversationId);
    assertRoomRead(viewer, access, "Conversation");
    const rows = await prisma.message.findMany({
      where: { conversationId, ...(options.upToSeq !== undefined ? { seq: { lte: BigInt(options.upToSeq) } } : {}) },
      orderBy: { seq: "desc" },
      take: MODEL_INPUT_MAX_MESSAGES,
      include: { author: { select: { name: true } } },
    });
    rows.reverse();
    const attachments = await prisma.attachment.findMany({
      where: { messageId: { in: rows.filter((m) => m.attachmentIds.length).map((m) => m.id) } },
      include: {
        blob: {
          include: {
            texts: { orderBy: { source: "asc" } },
            processingSteps: { select: { name: true, status: true, error: true, output: true } },
            derived: { select: { id: true, key: true, role: true, contentType: true, metadata: true } },
          },
        },
      },
    });
    const byId = new Map(attachments.map((a) => [a.id, a]));
    const loaded = new Map<string, Loaded>();
    const now = new Date();

    const messages: InputMessage[] = rows.map((m) => ({
      seq: Number(m.seq),
      role: m.role,
      authorName: m.author?.name ?? "unknown",
      text: m.text,
      deleted: m.deletedAt !== null,
      status: m.status === "STREAMING" ? "STREAMING" : m.interrupted ? "INTERRUPTED" : "COMPLETE",
      attachments: m.attachmentIds.flatMap((id): InputAttachment[] => {
        const a = byId.get(id);
        if (!a || a.messageId !== m.id) return [];
        const blob = a.blob;
        const input: InputAttachment = {
          id: a.id,
          filename: a.filename,
          mimeType: a.mimeType,
          size: Number(a.size),
          processing: blob ? processingStatus(blob.processingSteps) : { status: "DONE" },
          retentionExpired: !isAvailable(a, blob, now),
        };
        if (!blob || input.retentionExpired) return [input];
        loaded.set(a.id, { blob, derived: blob.derived });
        const text = blob.texts[0];
        if (text) input.text = { content: text.text, truncated: text.truncated };
        for (const step of blob.processingSteps) {
          const meta = ((step.output as { metadata?: Record<string, unknown> } | null)?.metadata ?? {}) as Record<string, unknown>;
          if (meta.analyzer === "image" && typeof meta.width === "number" && typeof meta.height === "number") {
            input.image = { width: meta.width, height: meta.height };
          }
          if (meta.analyzer === "pdf" && typeof meta.pages === "number") {
            const pages = blob.derived
              .filter((d) => d.role?.startsWith("page:"))
              .map((d) => {
                const md = d.metadata as { width?: number; height?: number };
                return { page: Number(d.role!.slice(5)), width: md.width ?? 0, height: md.height ?? 0 };
              })
              .sort((x, y) => x.page - y.page);
            input.pdf = { pageCount: meta.pages, ...(pages.length ? { pageImages: pages } : {}) };
          }
        }
        return [input];
      }),
    }));

    // ---- the AttachmentSource over the blob store ----

    const sourceOf = (attachment: InputAttachment, variant: AttachmentVariant) => {
      const l = loaded.get(attachment.id);
      if (!l) throw new Error(`attachment ${attachment.id} is not available`);
      if (variant.kind === "PDF_PAGE") {
        const page = l.derived.find((d) => d.role === `page:${variant.page}`);
        if (!page) throw new Error(`page ${variant.page} of ${attachment.id} was not rendered`);
        const md = page.metadata as { width: number; height: number };
        return { l, key: page.key, contentType: page.contentType, size: { width: md.width, height: md.height } };
      }
      return { l, key: l.blob.key, contentType: l.blob.contentType, size: attachment.image ?? { width: 0, height: 0 } };
    };

    /** The original may be served: same size, a type every provider takes (GIFs re-encoded for OpenAI: they may be animated). */
    const originalFits = (variant: AttachmentVariant, contentType: string, size: { width: number; height: number }) =>
      variant.kind === "ORIGINAL" ||
      (variant.width === size.width &&
        variant.height === size.height &&
        (MODEL_IMAGE_TYPES as readonly string[]).includes(contentType) &&
        !(contentType === "image/gif" && variant.profile === "OPENAI"));

    const encode = async (key: string, variant: Exclude<AttachmentVariant, { kind: "ORIGINAL" }>, size: { width: number; height: number }) =>
      modelImageFromStream(await blobStore.getStream(key), variant.profile, {
        source: size,
        ...(deps.maxInputPixels ? { maxInputPixels: deps.maxInputPixels } : {}),
      });

    const readAll = async (key: string) => {
      const chunks: Buffer[] = [];
      for await (const chunk of await blobStore.getStream(key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    };

    /**
     * The stored variant for `variant` (a derived blob of role model:<profile>[:page:<n>]),
     * made and stored on first use; `data` when this call made it. URL and base64 delivery
     * share it, so an image is encoded once per profile, not once per call.
     */
    const storedVariant = async (
      s: ReturnType<typeof sourceOf>,
      variant: Exclude<AttachmentVariant, { kind: "ORIGINAL" }>,
    ): Promise<{ key: string; contentType: string; data?: Buffer }> => {
      const role = variant.kind === "PDF_PAGE" ? `model:${variant.profile}:page:${variant.page}` : `model:${variant.profile}`;
      const stored = s.l.derived.find((d) => d.role === role);
      if (stored) return { key: stored.key, contentType: stored.contentType };
      // Made once, stored as a derived blob of the attachment (not billed, goes with it).
      const made = await encode(s.key, variant, s.size);
      const dir = await mkdtemp(path.join(os.tmpdir(), "cabinet-model-variant-"));
      try {
        const file = path.join(dir, "variant");
        await writeFile(file, made.data);
        await blobs.storeDerived(s.l.blob, [
          { role, path: file, contentType: made.mimeType, size: made.data.length, width: made.size.width, height: made.size.height },
        ]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const row = await prisma.blob.findUniqueOrThrow({ where: { sourceBlobId_role: { sourceBlobId: s.l.blob.id, role } } });
      s.l.derived.push({ id: row.id, key: row.key, role: row.role, contentType: row.contentType, metadata: row.metadata });
      return { key: row.key, contentType: row.contentType, data: made.data };
    };

    const source: AttachmentSource = {
      async signedUrl(attachment, variant) {
        const s = sourceOf(attachment, variant);
        const sign = (key: string, contentType: string) =>
          blobStore.presignGet(key, { expiresInSeconds: MODEL_INPUT_URL_SECONDS, fileName: attachment.filename, disposition: "inline", contentType });
        if (variant.kind === "ORIGINAL" || originalFits(variant, s.contentType, s.size)) return sign(s.key, s.contentType);
        const v = await storedVariant(s, variant);
        return sign(v.key, v.contentType);
      },
      async readBytes(attachment, variant) {
        const s = sourceOf(attachment, variant);
        if (variant.kind === "ORIGINAL" || originalFits(variant, s.contentType, s.size)) return { data: await readAll(s.key), mimeType: s.contentType };
        const v = await storedVariant(s, variant);
        return { data: v.data ?? (await readAll(v.key)), mimeType: v.contentType };
      },
    };
    return buildModelInput(messages, source, options);
  }

  return { modelInput };
}
