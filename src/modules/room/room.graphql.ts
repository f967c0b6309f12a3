// Room and Participant types, room(id), rooms(spaceId), createRoom,
// openDirectRoom, add/update/removeParticipant and the roomEvents subscription.
import { assertRoomRead, loadRoomAccess, readableRoomsWhere } from "../../access/room-access.ts";
import { requireSpacePermission } from "../../access/space-access.ts";
import { errors } from "../../errors.ts";
import type { StreamItem } from "../../events/event-stream.ts";
import { builder } from "../../graphql/builder.ts";
import { ConversationEventRef, streamResolve } from "../conversation/conversation-event.graphql.ts";
import { openRoomEvents } from "../conversation/conversation-streams.ts";
import { registerNodeLoader } from "../node/node-registry.ts";

export const RoomKindEnum = builder.enumType("RoomKind", {
  values: {
    STANDARD: { description: "Participants are added and removed." },
    DM: { description: "A fixed set of participants; the same set always opens the same room (openDirectRoom)." },
  } as const,
});

export const ParticipantRoleEnum = builder.enumType("ParticipantRole", {
  values: {
    OWNER: { description: "Manages the room's participants." },
    MEMBER: { description: "Reads and posts." },
    AGENT: { description: "An agent (usually a service account): reads and posts." },
    OBSERVER: { description: "Reads only." },
  } as const,
});

export const ParticipantRef = builder.prismaObject("RoomParticipant", {
  name: "Participant",
  fields: (t) => ({
    roomId: t.exposeID("roomId"),
    accountId: t.exposeID("accountId"),
    account: t.relation("account"),
    role: t.expose("role", { type: ParticipantRoleEnum }),
    autoRespond: t.exposeBoolean("autoRespond", {
      description: "When true, messages by others name this participant in conversation.message_posted's triggers (its flow should answer).",
    }),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
  }),
});

export const RoomRef = builder.prismaNode("Room", {
  id: { field: "id" },
  fields: (t) => ({
    spaceId: t.exposeID("spaceId"),
    kind: t.expose("kind", { type: RoomKindEnum }),
    name: t.exposeString("name", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    participants: t.relation("participants", {
      description: "Everyone in the room, in the order they joined.",
      query: { orderBy: [{ joinedAt: "asc" }, { accountId: "asc" }] },
    }),
    conversations: t.relatedConnection("conversations", {
      cursor: "id",
      description: "The room's conversations, most recently active first.",
      query: () => ({ orderBy: [{ lastActivityAt: "desc" }, { id: "desc" }] }),
    }),
  }),
});

registerNodeLoader("Room", [RoomRef], async (id, viewer, ctx) => {
  const access = await loadRoomAccess(ctx.prisma, viewer, id);
  try {
    assertRoomRead(viewer, access);
  } catch {
    return null;
  }
  return { type: RoomRef, node: await ctx.prisma.room.findUniqueOrThrow({ where: { id } }) };
});

const ParticipantInput = builder.inputType("ParticipantInput", {
  fields: (t) => ({
    accountId: t.id(),
    role: t.field({ type: ParticipantRoleEnum, required: false, description: "Default: AGENT for service accounts, MEMBER for users." }),
    autoRespond: t.boolean({ required: false, description: "Default: false." }),
  }),
});

const CreateRoomInput = builder.inputType("CreateRoomInput", {
  fields: (t) => ({
    spaceId: t.id(),
    name: t.string({ required: false }),
    participants: t.field({ type: [ParticipantInput], required: false, description: "Besides the caller, who joins as OWNER." }),
  }),
});

const OpenDirectRoomInput = builder.inputType("OpenDirectRoomInput", {
  fields: (t) => ({
    spaceId: t.id(),
    accountIds: t.idList({ description: "The other participants (the caller is always one); order and repeats are ignored." }),
  }),
});

const AddParticipantInput = builder.inputType("AddParticipantInput", {
  fields: (t) => ({
    roomId: t.id(),
    accountId: t.id(),
    role: t.field({ type: ParticipantRoleEnum, required: false }),
    autoRespond: t.boolean({ required: false }),
  }),
});

const UpdateParticipantInput = builder.inputType("UpdateParticipantInput", {
  fields: (t) => ({
    roomId: t.id(),
    accountId: t.id(),
    role: t.field({ type: ParticipantRoleEnum, required: false }),
    autoRespond: t.boolean({ required: false }),
  }),
});

const RemoveParticipantInput = builder.inputType("RemoveParticipantInput", {
  fields: (t) => ({ roomId: t.id(), accountId: t.id() }),
});

builder.queryFields((t) => ({
  room: t.prismaField({
    type: RoomRef,
    nullable: true,
    args: { id: t.arg.id() },
    description: "A room whose content the caller may read (its participants holding conversations:read, and space admins); null otherwise.",
    resolve: async (query, _root, args, ctx) => {
      const viewer = await ctx.viewer();
      const access = await loadRoomAccess(ctx.prisma, viewer, args.id);
      try {
        assertRoomRead(viewer, access);
      } catch {
        return null;
      }
      return ctx.prisma.room.findUnique({ ...query, where: { id: args.id } });
    },
  }),
  rooms: t.prismaConnection({
    type: RoomRef,
    cursor: "id",
    args: { spaceId: t.arg.id() },
    description: "The rooms of a space the caller may read, newest first (requires conversations:read; space admins see all).",
    resolve: async (query, _root, args, ctx) => {
      const viewer = await ctx.viewer();
      const space = await requireSpacePermission(ctx.prisma, viewer, args.spaceId, "conversations:read");
      if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
      return ctx.prisma.room.findMany({ ...query, where: readableRoomsWhere(viewer, space), orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
    },
  }),
}));

builder.mutationFields((t) => ({
  createRoom: t.prismaField({
    type: RoomRef,
    description: "A STANDARD room; the caller joins as OWNER. Requires conversations:write on the space.",
    args: { input: t.arg({ type: CreateRoomInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const room = await ctx.deps.services.rooms.createRoom(await ctx.viewer(), input);
      return ctx.prisma.room.findUniqueOrThrow({ ...query, where: { id: room.id } });
    },
  }),
  openDirectRoom: t.prismaField({
    type: RoomRef,
    description: `The DM room of the caller and these accounts, created on first open (the same set always returns the same room). Requires conversations:write. Service accounts join as AGENT with autoRespond.`,
    args: { input: t.arg({ type: OpenDirectRoomInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const room = await ctx.deps.services.rooms.openDirectRoom(await ctx.viewer(), input);
      return ctx.prisma.room.findUniqueOrThrow({ ...query, where: { id: room.id } });
    },
  }),
  addParticipant: t.prismaField({
    type: ParticipantRef,
    description: "STANDARD rooms (DM: ROOM_IS_DIRECT). The room's OWNER or a space admin, with conversations:write.",
    args: { input: t.arg({ type: AddParticipantInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const p = await ctx.deps.services.rooms.addParticipant(await ctx.viewer(), input);
      return ctx.prisma.roomParticipant.findUniqueOrThrow({ ...query, where: { roomId_accountId: { roomId: p.roomId, accountId: p.accountId } } });
    },
  }),
  updateParticipant: t.prismaField({
    type: ParticipantRef,
    description: "Changes a participant's role or autoRespond (STANDARD rooms; the OWNER or a space admin).",
    args: { input: t.arg({ type: UpdateParticipantInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const p = await ctx.deps.services.rooms.updateParticipant(await ctx.viewer(), input);
      return ctx.prisma.roomParticipant.findUniqueOrThrow({ ...query, where: { roomId_accountId: { roomId: p.roomId, accountId: p.accountId } } });
    },
  }),
  removeParticipant: t.boolean({
    description: "Removes a participant (STANDARD rooms; the OWNER or a space admin, or the participant itself). False when it was none.",
    args: { input: t.arg({ type: RemoveParticipantInput }) },
    resolve: async (_root, { input }, ctx) => ctx.deps.services.rooms.removeParticipant(await ctx.viewer(), input),
  }),
}));

builder.subscriptionFields((t) => ({
  roomEvents: t.field({
    type: ConversationEventRef,
    description:
      "A room's conversation.created and room.participant_joined/updated/left events, in commit order. " +
      "With `after` (an event's `cursor`): the stored events after it, then live ones, none missed or repeated; CURSOR_EXPIRED past retention. " +
      "Losing access to the room ends the subscription with an error.",
    args: { roomId: t.arg.id(), after: t.arg.string({ required: false }) },
    subscribe: async (_root, args, ctx): Promise<AsyncIterable<StreamItem>> =>
      openRoomEvents({ prisma: ctx.prisma, events: ctx.deps.events }, await ctx.viewer(), args),
    resolve: streamResolve,
  }),
}));
