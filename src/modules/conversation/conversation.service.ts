// Conversations: threads in a room. Creating one records
// `conversation.created` (the flow engine starts the agents' flows from it).
import { assertRoomWrite, loadRoomAccess } from "../../access/room-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient } from "../../db/prisma.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";
import { newId } from "../../ids.ts";
import { cleanDisplayName } from "../../validation/text.ts";

export type ConversationService = ReturnType<typeof createConversationService>;

export function createConversationService(deps: { prisma: PrismaClient }) {
  const { prisma } = deps;

  /** Needs conversations:write and membership of the room (not as OBSERVER). */
  async function createConversation(viewer: Viewer, input: { roomId: string; title?: string | null }) {
    const title = input.title == null ? null : cleanDisplayName(input.title, "A conversation");
    const access = await loadRoomAccess(prisma, viewer, input.roomId);
    assertRoomWrite(viewer, access);
    return transactionWithEvents(prisma, async (tx) => {
      const conversation = await tx.conversation.create({
        data: { id: newId("Conversation"), roomId: access.room.id, spaceId: access.room.spaceId, title, createdById: viewer.accountId },
      });
      recordEvent(tx, {
        type: "conversation.created",
        spaceId: access.room.spaceId,
        subjectId: conversation.id,
        payload: { roomId: access.room.id, conversationId: conversation.id, title, createdById: viewer.accountId },
      });
      return conversation;
    });
  }

  return { createConversation };
}
