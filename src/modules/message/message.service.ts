// Messages: posting (seq, idempotency, triggers and the loop guard, in one
// transaction with its event), streaming (deltas, completion, the stale-stream
// sweep), edits, tombstones and read horizons.
//
// seq: the posting transaction increments conversations.last_seq under the
// row lock and inserts the message with it; a rollback gives the number back,
// so seqs are gap-free and in commit order within a conversation.
import { assertRoomRead, assertRoomWrite, isSpaceAdmin, loadConversationAccess, loadMessageAccess } from "../../access/room-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { type Message, Prisma } from "../../generated/prisma/client.ts";
import { AppError, errors } from "../../errors.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";
import { newId } from "../../ids.ts";
import { holdsNul } from "../../validation/text.ts";
import type { MessageFacts, MessageRoleName, SuppressionReason } from "../conversation/conversation.events.ts";
import { type RateLimits, takeRateToken } from "../conversation/rate-limit.ts";

/** Longest message text, in characters (UTF-16 code units). */
export const MESSAGE_TEXT_MAX_CHARS = 32_768;
/** Largest `data`, as compact JSON in bytes. */
export const MESSAGE_DATA_MAX_BYTES = 16_384;
/** Longest single streaming delta, in characters. */
export const MESSAGE_DELTA_MAX_CHARS = 4_096;
export const CLIENT_MESSAGE_ID_MAX_CHARS = 200;

export type MessageService = ReturnType<typeof createMessageService>;

export type PostMessageInput = {
  conversationId: string;
  text?: string | null;
  data?: unknown;
  attachmentIds?: readonly string[] | null;
  clientMessageId?: string | null;
  role?: MessageRoleName | null;
  /** Post as STREAMING: the author then appends deltas and completes it. */
  streaming?: boolean | null;
};

export const messageFacts = (m: Message, roomId: string): MessageFacts => ({
  roomId,
  conversationId: m.conversationId,
  messageId: m.id,
  seq: Number(m.seq),
  authorId: m.authorId,
  role: m.role,
  status: m.status,
  text: m.text,
  data: m.data ?? null,
  attachmentIds: m.attachmentIds,
  clientMessageId: m.clientMessageId,
});

function checkText(text: string, what = "A message's text", max = MESSAGE_TEXT_MAX_CHARS) {
  if (text.length > max) throw errors.badInput(`${what} is longer than ${max} characters`, { limit: max, reason: "TEXT_TOO_LONG" });
  if (text.includes("\u0000")) throw errors.badInput(`${what} cannot contain NUL (U+0000)`);
}

function checkData(data: unknown) {
  if (data === undefined || data === null) return;
  const size = Buffer.byteLength(JSON.stringify(data));
  if (size > MESSAGE_DATA_MAX_BYTES)
    throw errors.badInput(`A message's data is larger than ${MESSAGE_DATA_MAX_BYTES} bytes as JSON`, {
      limit: MESSAGE_DATA_MAX_BYTES,
      reason: "DATA_TOO_LARGE",
    });
  if (holdsNul(data)) throw errors.badInput("A message's data cannot contain NUL (U+0000)");
}

/** Thrown inside the posting transaction to roll it back when a retry's original is found. */
class Duplicate {
  constructor(readonly message: Message) {}
}

export const messageNotStreaming = () => new AppError("MESSAGE_NOT_STREAMING", "The message is not streaming (it was completed)");

/** Most attachments one message may carry. */
export const MESSAGE_ATTACHMENTS_MAX = 20;

/** Binds attachments to a message in its posting transaction (attachment.service.ts); throws when one cannot be bound. */
export type BindAttachments = (
  tx: Tx,
  input: { accountId: string; conversationId: string; messageId: string; attachmentIds: readonly string[] },
) => Promise<void>;

export function createMessageService(deps: { prisma: PrismaClient; rateLimits: RateLimits; agentChainDepth: number; bindAttachments?: BindAttachments }) {
  const { prisma } = deps;

  function roleFor(viewer: Viewer, requested: MessageRoleName | null | undefined): MessageRoleName {
    if (viewer.kind === "USER") {
      if (requested && requested !== "USER") throw errors.badInput("User accounts post with role USER", { role: requested });
      return "USER";
    }
    return requested ?? "AGENT";
  }

  async function postMessage(viewer: Viewer, input: PostMessageInput): Promise<Message> {
    const text = input.text ?? "";
    checkText(text);
    checkData(input.data);
    const attachmentIds = input.attachmentIds ?? [];
    if (attachmentIds.length > MESSAGE_ATTACHMENTS_MAX) {
      throw errors.badInput(`A message has at most ${MESSAGE_ATTACHMENTS_MAX} attachments`, {
        limit: MESSAGE_ATTACHMENTS_MAX,
        reason: "ATTACHMENT_NOT_BINDABLE",
      });
    }
    const cmid = input.clientMessageId ?? null;
    if (cmid !== null && (cmid.length === 0 || cmid.length > CLIENT_MESSAGE_ID_MAX_CHARS || cmid.includes("\u0000"))) {
      throw errors.badInput(`clientMessageId must be 1 to ${CLIENT_MESSAGE_ID_MAX_CHARS} characters`);
    }
    const streaming = input.streaming ?? false;
    if (!streaming && !text && !attachmentIds.length && (input.data === undefined || input.data === null)) {
      throw errors.badInput("A message needs text, data or attachments");
    }
    const access = await loadConversationAccess(prisma, viewer, input.conversationId);
    assertRoomWrite(viewer, access, "Conversation");
    const role = roleFor(viewer, input.role);
    const find = (db: PrismaClient | Tx) =>
      db.message.findUnique({
        where: { conversationId_authorId_clientMessageId: { conversationId: input.conversationId, authorId: viewer.accountId, clientMessageId: cmid! } },
      });
    // A retry of a committed post: the original, without charging the rate limit.
    if (cmid !== null) {
      const original = await find(prisma);
      if (original) return original;
    }
    await takeRateToken(prisma, deps.rateLimits, viewer.accountId, "post");
    try {
      return await transactionWithEvents(prisma, async (tx) => {
        // The row lock serializes posts to this conversation until commit.
        const [conv] = await tx.$queryRaw<{ seq: bigint; chain: number; room_id: string; space_id: string }[]>`
          UPDATE conversations
             SET last_seq = last_seq + 1, last_activity_at = clock_timestamp(),
                 agent_chain = CASE WHEN ${role === "USER"} THEN 0 ELSE agent_chain + 1 END
           WHERE id = ${input.conversationId}
          RETURNING last_seq AS seq, agent_chain AS chain, room_id, space_id`;
        if (!conv) throw errors.notFound("Conversation");
        if (cmid !== null) {
          // A concurrent retry committed while this one waited for the lock.
          const original = await find(tx);
          if (original) throw new Duplicate(original);
        }
        const responders = await tx.roomParticipant.findMany({ where: { roomId: conv.room_id, autoRespond: true }, select: { accountId: true } });
        const triggers: string[] = [];
        const suppressed: { accountId: string; reason: SuppressionReason }[] = [];
        for (const { accountId } of responders) {
          if (accountId === viewer.accountId) suppressed.push({ accountId, reason: "AUTHOR" });
          else if (role !== "USER" && conv.chain >= deps.agentChainDepth) suppressed.push({ accountId, reason: "CHAIN_DEPTH" });
          else triggers.push(accountId);
        }
        const message = await tx.message.create({
          data: {
            id: newId("Message"),
            conversationId: input.conversationId,
            seq: conv.seq,
            authorId: viewer.accountId,
            role,
            text,
            data: input.data === undefined || input.data === null ? undefined : (input.data as object),
            status: streaming ? "STREAMING" : "COMPLETE",
            clientMessageId: cmid,
            agentChain: conv.chain,
            attachmentIds: [...attachmentIds],
          },
        });
        if (attachmentIds.length) {
          if (!deps.bindAttachments) throw errors.badInput("Attachments are not available", { reason: "ATTACHMENT_NOT_BINDABLE" });
          await deps.bindAttachments(tx, { accountId: viewer.accountId, conversationId: input.conversationId, messageId: message.id, attachmentIds });
        }
        recordEvent(tx, {
          type: "conversation.message_posted",
          spaceId: conv.space_id,
          subjectId: message.id,
          payload: { ...messageFacts(message, conv.room_id), triggers, suppressed, chainDepth: conv.chain },
        });
        return message;
      });
    } catch (e) {
      if (e instanceof Duplicate) return e.message;
      // Two first attempts with one key racing past the check: the loser returns the winner's message.
      if (cmid !== null && (e as { code?: string }).code === "P2002") {
        const original = await find(prisma);
        if (original) return original;
      }
      throw e;
    }
  }

  /** The message, writable by its author (a participant holding conversations:write). */
  async function authored(viewer: Viewer, messageId: string) {
    const access = await loadMessageAccess(prisma, viewer, messageId);
    assertRoomWrite(viewer, access, "Message");
    if (access.authorId !== viewer.accountId) throw errors.forbidden("message:author");
    return access;
  }

  async function appendMessageDelta(viewer: Viewer, input: { messageId: string; delta: string }) {
    if (!input.delta) throw errors.badInput("An empty delta");
    checkText(input.delta, "A delta", MESSAGE_DELTA_MAX_CHARS);
    const access = await authored(viewer, input.messageId);
    await takeRateToken(prisma, deps.rateLimits, viewer.accountId, "delta");
    return transactionWithEvents(prisma, async (tx) => {
      const [row] = await tx.$queryRaw<{ seq: bigint; status: string; length: number }[]>`
        SELECT seq, status::text AS status, length(text) AS length FROM messages WHERE id = ${input.messageId} FOR UPDATE`;
      if (row?.status !== "STREAMING") throw messageNotStreaming();
      if (row.length + input.delta.length > MESSAGE_TEXT_MAX_CHARS) {
        throw errors.badInput(`A message's text would grow past ${MESSAGE_TEXT_MAX_CHARS} characters`, {
          limit: MESSAGE_TEXT_MAX_CHARS,
          reason: "TEXT_TOO_LONG",
        });
      }
      await tx.$executeRaw`UPDATE messages SET text = text || ${input.delta}, updated_at = clock_timestamp() WHERE id = ${input.messageId}`;
      recordEvent(tx, {
        type: "conversation.message_appended",
        spaceId: access.room.spaceId,
        subjectId: input.messageId,
        payload: {
          roomId: access.room.id,
          conversationId: access.conversationId,
          messageId: input.messageId,
          seq: Number(row.seq),
          offset: row.length,
          delta: input.delta,
        },
      });
      return tx.message.findUniqueOrThrow({ where: { id: input.messageId } });
    });
  }

  async function complete(tx: Tx, spaceId: string, roomId: string, message: Message, interrupted: boolean) {
    recordEvent(tx, { type: "conversation.message_completed", spaceId, subjectId: message.id, payload: { ...messageFacts(message, roomId), interrupted } });
  }

  /** Completes the author's STREAMING message; `text`, when given, replaces what the deltas built. */
  async function completeMessage(viewer: Viewer, input: { messageId: string; text?: string | null }) {
    if (input.text != null) checkText(input.text);
    const access = await authored(viewer, input.messageId);
    return transactionWithEvents(prisma, async (tx) => {
      const updated = await tx.message.updateManyAndReturn({
        where: { id: input.messageId, status: "STREAMING" },
        data: { status: "COMPLETE", updatedAt: new Date(), ...(input.text != null ? { text: input.text } : {}) },
      });
      const message = updated[0];
      if (!message) throw messageNotStreaming();
      await complete(tx, access.room.spaceId, access.room.id, message, false);
      return message;
    });
  }

  async function editMessage(viewer: Viewer, input: { id: string; text?: string | null; data?: unknown }) {
    if (input.text != null) checkText(input.text);
    checkData(input.data);
    const access = await authored(viewer, input.id);
    return transactionWithEvents(prisma, async (tx) => {
      const current = await tx.message.findUniqueOrThrow({ where: { id: input.id } });
      if (current.deletedAt) throw new AppError("MESSAGE_DELETED", "The message was deleted");
      if (current.status === "STREAMING") throw errors.badInput("A streaming message is changed with appendMessageDelta and completeMessage");
      const editedAt = new Date();
      const message = await tx.message.update({
        where: { id: input.id },
        data: {
          editedAt,
          updatedAt: editedAt,
          ...(input.text != null ? { text: input.text } : {}),
          ...(input.data !== undefined ? { data: input.data === null ? Prisma.DbNull : (input.data as object) } : {}),
        },
      });
      recordEvent(tx, {
        type: "conversation.message_edited",
        spaceId: access.room.spaceId,
        subjectId: message.id,
        payload: { ...messageFacts(message, access.room.id), editedAt: editedAt.toISOString() },
      });
      return message;
    });
  }

  /** Leaves a tombstone: its author, the room's OWNER or a space admin. Deleting a deleted message returns it. */
  async function deleteMessage(viewer: Viewer, id: string) {
    const access = await loadMessageAccess(prisma, viewer, id);
    assertRoomWrite(viewer, access, "Message");
    if (access.authorId !== viewer.accountId && access.participant?.role !== "OWNER" && !isSpaceAdmin(viewer, access.space)) {
      throw errors.forbidden("message:author");
    }
    return transactionWithEvents(prisma, async (tx) => {
      const updated = await tx.message.updateManyAndReturn({
        where: { id, deletedAt: null },
        data: { deletedAt: new Date(), text: "", data: Prisma.DbNull, attachmentIds: [], status: "COMPLETE" },
      });
      const message = updated[0];
      if (!message) return tx.message.findUniqueOrThrow({ where: { id } });
      recordEvent(tx, {
        type: "conversation.message_deleted",
        spaceId: access.room.spaceId,
        subjectId: id,
        payload: { roomId: access.room.id, conversationId: access.conversationId, messageId: id, seq: Number(message.seq), deletedById: viewer.accountId },
      });
      return message;
    });
  }

  /** Moves the viewer's read horizon forward to `seq` (never back); returns the horizon. */
  async function markRead(viewer: Viewer, input: { conversationId: string; seq: number }): Promise<{ conversationId: string; seq: number }> {
    const access = await loadConversationAccess(prisma, viewer, input.conversationId);
    assertRoomRead(viewer, access, "Conversation");
    if (!access.participant) throw errors.forbidden("room:participant");
    if (!Number.isSafeInteger(input.seq) || input.seq < 0) throw errors.badInput("seq must be a non-negative integer");
    return transactionWithEvents(prisma, async (tx) => {
      const [conv] = await tx.$queryRaw<{ last_seq: bigint }[]>`SELECT last_seq FROM conversations WHERE id = ${input.conversationId}`;
      if (BigInt(input.seq) > conv!.last_seq) throw errors.badInput("seq is beyond the conversation's newest message", { lastSeq: Number(conv!.last_seq) });
      const moved = await tx.$queryRaw<{ read_seq: bigint }[]>`
        INSERT INTO conversation_reads AS r (conversation_id, account_id, read_seq, updated_at)
        VALUES (${input.conversationId}, ${viewer.accountId}, ${input.seq}, clock_timestamp())
        ON CONFLICT (conversation_id, account_id) DO UPDATE SET read_seq = EXCLUDED.read_seq, updated_at = EXCLUDED.updated_at
         WHERE r.read_seq < EXCLUDED.read_seq
        RETURNING read_seq`;
      if (moved.length) {
        recordEvent(tx, {
          type: "conversation.read",
          spaceId: access.room.spaceId,
          subjectId: viewer.accountId,
          payload: { roomId: access.room.id, conversationId: input.conversationId, accountId: viewer.accountId, seq: input.seq },
        });
        return { conversationId: input.conversationId, seq: input.seq };
      }
      const current = await tx.conversationRead.findUniqueOrThrow({
        where: { conversationId_accountId: { conversationId: input.conversationId, accountId: viewer.accountId } },
      });
      return { conversationId: input.conversationId, seq: Number(current.readSeq) };
    });
  }

  /**
   * The stale-stream sweep: completes STREAMING messages without a delta for
   * `timeoutSeconds`, marked interrupted, each with its event. Returns how many.
   */
  async function completeStaleStreams(timeoutSeconds: number, batch = 500): Promise<number> {
    return transactionWithEvents(prisma, async (tx) => {
      const rows = await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM messages WHERE status = 'STREAMING' AND updated_at < clock_timestamp() - make_interval(secs => ${timeoutSeconds}::int)
         ORDER BY updated_at LIMIT ${batch} FOR UPDATE SKIP LOCKED`;
      if (!rows.length) return 0;
      const messages = await tx.message.updateManyAndReturn({
        where: { id: { in: rows.map((r) => r.id) }, status: "STREAMING" },
        data: { status: "COMPLETE", interrupted: true, updatedAt: new Date() },
        include: { conversation: { select: { roomId: true, spaceId: true } } },
      });
      for (const m of messages) await complete(tx, m.conversation.spaceId, m.conversation.roomId, m, true);
      return messages.length;
    });
  }

  return { postMessage, appendMessageDelta, completeMessage, editMessage, deleteMessage, markRead, completeStaleStreams };
}
