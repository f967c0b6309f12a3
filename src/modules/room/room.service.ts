// Rooms and their participants. STANDARD rooms have participants added and
// removed; DM rooms have a fixed set, deduplicated by a unique key over the
// sorted distinct account ids, created with INSERT ... ON CONFLICT so
// concurrent opens of the same set meet on one row. Every change records its
// events (room.participant_*) in its transaction.
import { assertRoomManage, loadRoomAccess, type RoomAccess } from "../../access/room-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import type { Viewer } from "../../access/viewer.ts";
import type { PrismaClient, Tx } from "../../db/prisma.ts";
import { AppError, errors, isAppError } from "../../errors.ts";
import { recordEvent, transactionWithEvents } from "../../events/event-log.ts";
import { newId } from "../../ids.ts";
import { cleanDisplayName } from "../../validation/text.ts";
import type { ParticipantRoleName } from "../conversation/conversation.events.ts";

export type ParticipantInput = { accountId: string; role?: ParticipantRoleName | null; autoRespond?: boolean | null };

export type RoomService = ReturnType<typeof createRoomService>;

export const roomIsDirect = () => new AppError("ROOM_IS_DIRECT", "A DM room's participants are fixed; open another DM room for another set of accounts");

/** Most participants a createRoom call may name (more are added with addParticipant). */
export const MAX_INITIAL_PARTICIPANTS = 100;

export function createRoomService(deps: { prisma: PrismaClient; dmMaxParticipants: number }) {
  const { prisma } = deps;

  /** The accounts of `ids` that exist in the organization; NOT_FOUND naming the first one that does not. */
  async function requireAccounts(organizationId: string, ids: readonly string[]): Promise<Map<string, "USER" | "SERVICE">> {
    const rows = await prisma.account.findMany({ where: { id: { in: [...ids] }, organizationId }, select: { id: true, kind: true } });
    const found = new Map(rows.map((r) => [r.id, r.kind]));
    const missing = ids.find((id) => !found.has(id));
    if (missing) throw new AppError("NOT_FOUND", "Account not found", { accountId: missing });
    return found;
  }

  function recordParticipant(
    tx: Tx,
    type: "room.participant_joined" | "room.participant_updated" | "room.participant_left",
    spaceId: string,
    p: { roomId: string; accountId: string; role: ParticipantRoleName; autoRespond: boolean },
  ) {
    recordEvent(tx, { type, spaceId, subjectId: p.accountId, payload: { roomId: p.roomId, accountId: p.accountId, role: p.role, autoRespond: p.autoRespond } });
  }

  /** A STANDARD room; the caller becomes its OWNER. Needs conversations:write on the space. */
  async function createRoom(viewer: Viewer, input: { spaceId: string; name?: string | null; participants?: readonly ParticipantInput[] | null }) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, "conversations:write");
    const name = input.name == null ? null : cleanDisplayName(input.name, "A room");
    const given = input.participants ?? [];
    if (given.length > MAX_INITIAL_PARTICIPANTS) throw errors.badInput(`At most ${MAX_INITIAL_PARTICIPANTS} participants at creation`);
    const byAccount = new Map<string, ParticipantInput>();
    for (const p of given) byAccount.set(p.accountId, p);
    byAccount.set(viewer.accountId, { accountId: viewer.accountId, role: "OWNER", autoRespond: byAccount.get(viewer.accountId)?.autoRespond ?? false });
    const kinds = await requireAccounts(space.organizationId, [...byAccount.keys()]);
    const roomId = newId("Room");
    return transactionWithEvents(prisma, async (tx) => {
      const room = await tx.room.create({ data: { id: roomId, spaceId: space.id, kind: "STANDARD", name, createdById: viewer.accountId } });
      for (const p of byAccount.values()) {
        const role = p.role ?? (kinds.get(p.accountId) === "SERVICE" ? "AGENT" : "MEMBER");
        const autoRespond = p.autoRespond ?? false;
        await tx.roomParticipant.create({ data: { roomId, accountId: p.accountId, role, autoRespond } });
        recordParticipant(tx, "room.participant_joined", space.id, { roomId, accountId: p.accountId, role, autoRespond });
      }
      return room;
    });
  }

  /**
   * The DM room of exactly these accounts (the caller always among them),
   * created on first open. Order and repeats are ignored. Service accounts
   * join as AGENT with autoRespond (a DM with an agent is a chat with it);
   * users as MEMBER.
   */
  async function openDirectRoom(viewer: Viewer, input: { spaceId: string; accountIds: readonly string[] }) {
    const space = await requireSpacePermission(prisma, viewer, input.spaceId, "conversations:write");
    const ids = [...new Set([...input.accountIds, viewer.accountId])].sort();
    if (ids.length < 2) throw errors.badInput("A DM room needs at least one account besides you", { accountIds: input.accountIds });
    if (ids.length > deps.dmMaxParticipants) {
      throw errors.badInput(`A DM room has at most ${deps.dmMaxParticipants} participants`, { limit: deps.dmMaxParticipants, reason: "DM_TOO_LARGE" });
    }
    const kinds = await requireAccounts(space.organizationId, ids);
    const dmKey = ids.join(",");
    return transactionWithEvents(prisma, async (tx) => {
      // A concurrent open of the same set waits here for the other to commit, then finds its row.
      const inserted = await tx.$queryRaw<{ id: string }[]>`
        INSERT INTO rooms (id, space_id, kind, dm_key, created_by_id)
        VALUES (${newId("Room")}, ${space.id}, 'DM', ${dmKey}, ${viewer.accountId})
        ON CONFLICT (space_id, dm_key) DO NOTHING
        RETURNING id`;
      if (!inserted.length) return tx.room.findUniqueOrThrow({ where: { spaceId_dmKey: { spaceId: space.id, dmKey } } });
      const roomId = inserted[0]!.id;
      for (const accountId of ids) {
        const agent = kinds.get(accountId) === "SERVICE";
        const role = agent ? "AGENT" : "MEMBER";
        await tx.roomParticipant.create({ data: { roomId, accountId, role, autoRespond: agent } });
        recordParticipant(tx, "room.participant_joined", space.id, { roomId, accountId, role, autoRespond: agent });
      }
      return tx.room.findUniqueOrThrow({ where: { id: roomId } });
    });
  }

  async function managed(viewer: Viewer, roomId: string, options: { self?: boolean } = {}): Promise<RoomAccess> {
    const access = await loadRoomAccess(prisma, viewer, roomId);
    try {
      assertRoomManage(viewer, access, options);
    } catch (e) {
      // Visible, but a DM: the clearer answer is that nobody can change it.
      if (access?.room.kind === "DM" && isAppError(e) && e.code === "FORBIDDEN") throw roomIsDirect();
      throw e;
    }
    if (access.room.kind === "DM") throw roomIsDirect();
    return access;
  }

  async function addParticipant(viewer: Viewer, input: { roomId: string } & ParticipantInput) {
    const access = await managed(viewer, input.roomId);
    const kinds = await requireAccounts(access.space.organizationId, [input.accountId]);
    const role = input.role ?? (kinds.get(input.accountId) === "SERVICE" ? "AGENT" : "MEMBER");
    const autoRespond = input.autoRespond ?? false;
    return transactionWithEvents(prisma, async (tx) => {
      const rows = await tx.$queryRaw<{ room_id: string }[]>`
        INSERT INTO room_participants (room_id, account_id, role, auto_respond)
        VALUES (${input.roomId}, ${input.accountId}, ${role}::"ParticipantRole", ${autoRespond})
        ON CONFLICT (room_id, account_id) DO NOTHING RETURNING room_id`;
      if (!rows.length)
        throw new AppError("ALREADY_EXISTS", "The account is already a participant; updateParticipant changes its role", { accountId: input.accountId });
      recordParticipant(tx, "room.participant_joined", access.room.spaceId, { roomId: input.roomId, accountId: input.accountId, role, autoRespond });
      return tx.roomParticipant.findUniqueOrThrow({ where: { roomId_accountId: { roomId: input.roomId, accountId: input.accountId } } });
    });
  }

  async function updateParticipant(
    viewer: Viewer,
    input: { roomId: string; accountId: string; role?: ParticipantRoleName | null; autoRespond?: boolean | null },
  ) {
    const access = await managed(viewer, input.roomId);
    return transactionWithEvents(prisma, async (tx) => {
      const current = await tx.roomParticipant.findUnique({ where: { roomId_accountId: { roomId: input.roomId, accountId: input.accountId } } });
      if (!current) throw errors.notFound("Participant");
      const updated = await tx.roomParticipant.update({
        where: { roomId_accountId: { roomId: input.roomId, accountId: input.accountId } },
        data: { role: input.role ?? current.role, autoRespond: input.autoRespond ?? current.autoRespond },
      });
      recordParticipant(tx, "room.participant_updated", access.room.spaceId, updated);
      return updated;
    });
  }

  /** Removes a participant (the room's OWNER or a space admin; anyone may remove itself). True when it was one. */
  async function removeParticipant(viewer: Viewer, input: { roomId: string; accountId: string }): Promise<boolean> {
    const access = await managed(viewer, input.roomId, { self: input.accountId === viewer.accountId });
    return transactionWithEvents(prisma, async (tx) => {
      const [removed] = await tx.$queryRaw<{ role: ParticipantRoleName; auto_respond: boolean }[]>`
        DELETE FROM room_participants WHERE room_id = ${input.roomId} AND account_id = ${input.accountId} RETURNING role::text AS role, auto_respond`;
      if (!removed) return false;
      recordParticipant(tx, "room.participant_left", access.room.spaceId, {
        roomId: input.roomId,
        accountId: input.accountId,
        role: removed.role,
        autoRespond: removed.auto_respond,
      });
      return true;
    });
  }

  return { createRoom, openDirectRoom, addParticipant, updateParticipant, removeParticipant };
}
