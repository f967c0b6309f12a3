// Who may see and write a room's content (rooms, participants, conversations,
// messages, their events). Decision 48.
// - Reading: the room's participants holding `conversations:read` on its
//   space, and the space's admins (`space:admin`, organization admins).
// - Writing (conversations, messages, read horizons): `conversations:write` and
//   being a participant; OBSERVERs read only.
// - Managing participants: `conversations:write` and being the room's OWNER,
//   or a space admin; a participant may always remove itself.
// Everyone else gets NOT_FOUND, exactly as for a room that does not exist, so
// room and conversation ids reveal nothing. FORBIDDEN only means "you can see
// this room, but may not do this".
import type { Prisma } from "../generated/prisma/client.ts";
import type { PrismaClient } from "../db/prisma.ts";
import { errors } from "../errors.ts";
import { isPermission } from "./permissions.ts";
import { canSeeSpace, hasPermission } from "./space-access.ts";
import type { Viewer } from "./viewer.ts";

export type RoomAccess = {
  room: { id: string; spaceId: string; kind: "STANDARD" | "DM" };
  space: { id: string; organizationId: string };
  /** The viewer's participation, if any. */
  participant: { role: "OWNER" | "MEMBER" | "AGENT" | "OBSERVER"; autoRespond: boolean } | null;
};

const ROOM_SELECT = (accountId: string) =>
  ({
    id: true,
    spaceId: true,
    kind: true,
    space: { select: { id: true, organizationId: true } },
    participants: { where: { accountId }, select: { role: true, autoRespond: true } },
  }) satisfies Prisma.RoomSelect;

type RoomRow = Prisma.RoomGetPayload<{ select: ReturnType<typeof ROOM_SELECT> }>;

const toAccess = (row: RoomRow): RoomAccess => ({
  room: { id: row.id, spaceId: row.spaceId, kind: row.kind },
  space: row.space,
  participant: row.participants[0] ?? null,
});

export const isSpaceAdmin = (viewer: Viewer, space: RoomAccess["space"]) => hasPermission(viewer, space, "space:admin");

/** True when the viewer may read the room's content. */
export function canReadRoom(viewer: Viewer, access: RoomAccess): boolean {
  if (!canSeeSpace(viewer, access.space)) return false;
  if (isSpaceAdmin(viewer, access.space)) return true;
  return !!access.participant && hasPermission(viewer, access.space, "conversations:read");
}

/** Loads the room with the viewer's participation; null when it does not exist. */
export async function loadRoomAccess(prisma: PrismaClient, viewer: Viewer, roomId: string): Promise<RoomAccess | null> {
  const row = await prisma.room.findUnique({ where: { id: roomId }, select: ROOM_SELECT(viewer.accountId) });
  return row ? toAccess(row) : null;
}

/** Loads a conversation's room access; null when the conversation does not exist. */
export async function loadConversationAccess(
  prisma: PrismaClient,
  viewer: Viewer,
  conversationId: string,
): Promise<(RoomAccess & { conversationId: string }) | null> {
  const row = await prisma.conversation.findUnique({ where: { id: conversationId }, select: { id: true, room: { select: ROOM_SELECT(viewer.accountId) } } });
  return row ? { ...toAccess(row.room), conversationId: row.id } : null;
}

/** NOT_FOUND unless the viewer may read the room. */
export function assertRoomRead<A extends RoomAccess>(viewer: Viewer, access: A | null, what = "Room"): asserts access is A {
  if (!access || !canReadRoom(viewer, access)) throw errors.notFound(what);
}

/** Writing content: NOT_FOUND if the room is hidden from the viewer, FORBIDDEN without conversations:write or membership. */
export function assertRoomWrite<A extends RoomAccess>(viewer: Viewer, access: A | null, what = "Room"): asserts access is A {
  const visible = !!access && canSeeSpace(viewer, access.space) && (!!access.participant || isSpaceAdmin(viewer, access.space));
  if (!visible) throw errors.notFound(what);
  if (!hasPermission(viewer, access.space, "conversations:write")) throw errors.forbidden("conversations:write");
  if (!access.participant) throw errors.forbidden("room:participant");
  if (access.participant.role === "OBSERVER") throw errors.forbidden("room:post (observers read only)");
}

/** Managing participants: the room's OWNER or a space admin, with conversations:write. */
export function assertRoomManage(viewer: Viewer, access: RoomAccess | null, options: { self?: boolean } = {}): asserts access is RoomAccess {
  const visible = !!access && canSeeSpace(viewer, access.space) && (!!access.participant || isSpaceAdmin(viewer, access.space));
  if (!visible) throw errors.notFound("Room");
  if (!hasPermission(viewer, access.space, "conversations:write")) throw errors.forbidden("conversations:write");
  if (options.self && access.participant) return;
  if (access.participant?.role !== "OWNER" && !isSpaceAdmin(viewer, access.space)) throw errors.forbidden("room:owner");
}

/**
 * Prisma where-fragment: the rooms of `space` whose content the viewer may
 * read (all of them for space admins; their own with conversations:read).
 */
export function readableRoomsWhere(viewer: Viewer, space: RoomAccess["space"]): Prisma.RoomWhereInput {
  if (!canSeeSpace(viewer, space)) return { id: { in: [] } };
  if (isSpaceAdmin(viewer, space)) return { spaceId: space.id };
  if (!hasPermission(viewer, space, "conversations:read")) return { id: { in: [] } };
  return { spaceId: space.id, participants: { some: { accountId: viewer.accountId } } };
}

/** Loads a message with its conversation's room access; null when it does not exist. */
export async function loadMessageAccess(prisma: PrismaClient, viewer: Viewer, messageId: string) {
  const row = await prisma.message.findUnique({
    where: { id: messageId },
    select: { id: true, authorId: true, conversationId: true, conversation: { select: { room: { select: ROOM_SELECT(viewer.accountId) } } } },
  });
  return row ? { ...toAccess(row.conversation.room), messageId: row.id, authorId: row.authorId, conversationId: row.conversationId } : null;
}

/**
 * canReadRoom with the account's current standing (admin flag, grant and
 * participation read now), for long-lived subscriptions re-checking after a
 * grant.revoked or room.participant_* event about the viewer. NOT_FOUND when gone.
 */
export async function requireRoomReadNow(prisma: PrismaClient, viewer: Viewer, roomId: string): Promise<void> {
  const [room, account] = await Promise.all([
    prisma.room.findUnique({ where: { id: roomId }, select: ROOM_SELECT(viewer.accountId) }),
    prisma.account.findUnique({
      where: { id: viewer.accountId },
      select: { isOrgAdmin: true, disabledAt: true, grants: { select: { spaceId: true, permissions: true } } },
    }),
  ]);
  if (!room || !account || account.disabledAt) throw errors.notFound("Room");
  const grants = new Map(account.grants.map((g) => [g.spaceId, new Set(g.permissions.filter(isPermission))]));
  assertRoomRead({ ...viewer, isOrgAdmin: account.isOrgAdmin, grants }, toAccess(room));
}
