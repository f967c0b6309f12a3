// Entry (interface), Folder and Asset: the folder tree as GraphQL. Reads go
// straight to Prisma through Pothos selections (after an access check on the
// space); writes go through entry.service.ts / asset.service.ts.
import { requireSpacePermission } from "../../access/space-access.ts";
import { errors } from "../../errors.ts";
import { builder } from "../../graphql/builder.ts";
import { normalizePath } from "./entry-path.ts";
import { resolveChain } from "./entry-tree.sql.ts";

export const EntryKindEnum = builder.enumType("EntryKind", { values: ["FOLDER", "FILE"] as const });
export const BlobStatusEnum = builder.enumType("BlobStatus", { values: ["PENDING", "READY", "FAILED"] as const });
export const DispositionEnum = builder.enumType("Disposition", {
  values: { INLINE: { value: "inline" }, ATTACHMENT: { value: "attachment" } } as const,
});

export const EntryRef = builder.prismaInterface("Entry", {
  name: "Entry",
  description: "A folder or a file in a space's tree.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name", { description: "The entry's name; empty for a space's root folder." }),
    kind: t.expose("kind", { type: EntryKindEnum }),
    path: t.string({
      description: "Path from the space root, e.g. `docs/contracts/a.pdf`; empty for the root.",
      resolve: async (entry, _args, ctx) => (await ctx.loaders.path.load(entry.id)) ?? "",
    }),
    spaceId: t.exposeID("spaceId"),
    parent: t.relation("parent", { nullable: true }),
    createdBy: t.relation("createdBy", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
  }),
  resolveType: (entry) => (entry.kind === "FOLDER" ? "Folder" : "Asset"),
});

export const FolderRef = builder.prismaNode("Entry", {
  variant: "Folder",
  id: { field: "id" },
  interfaces: [EntryRef],
  fields: (t) => ({
    children: t.relatedConnection("children", {
      description: "Folders first, then files, each by name.",
      cursor: "id",
      type: EntryRef,
      query: () => ({ orderBy: [{ kind: "asc" }, { name: "asc" }, { id: "asc" }] }),
    }),
  }),
});

export const AssetRef = builder.prismaNode("Entry", {
  variant: "Asset",
  id: { field: "id" },
  interfaces: [EntryRef],
  fields: (t) => ({
    mimeType: t.string({
      select: { blob: { select: { contentType: true } } },
      resolve: (e) => e.blob?.contentType ?? "application/octet-stream",
    }),
    size: t.field({
      type: "SafeInt",
      select: { blob: { select: { size: true } } },
      resolve: (e) => e.blob?.size ?? 0n,
    }),
    sha256: t.string({
      nullable: true,
      select: { blob: { select: { sha256: true } } },
      resolve: (e) => e.blob?.sha256 ?? null,
    }),
    status: t.field({
      type: BlobStatusEnum,
      select: { blob: { select: { status: true } } },
      resolve: (e) => e.blob?.status ?? "PENDING",
    }),
    downloadUrl: t.string({
      description: "A time-limited URL that serves the bytes directly from the blob store.",
      args: {
        expiresIn: t.arg.int({ required: false, description: "Seconds until the URL expires (default 900)." }),
        disposition: t.arg({ type: DispositionEnum, required: false, defaultValue: "attachment" }),
      },
      select: { name: true, blob: { select: { key: true, contentType: true } } },
      resolve: (e, args, ctx) => {
        const { defaultExpiresSeconds, maxExpiresSeconds } = ctx.deps.config.presign;
        const expiresInSeconds = args.expiresIn ?? defaultExpiresSeconds;
        if (expiresInSeconds < 1 || expiresInSeconds > maxExpiresSeconds) {
          throw errors.badInput(`expiresIn must be between 1 and ${maxExpiresSeconds} seconds`);
        }
        return ctx.deps.services.assets.downloadUrl(e, { expiresInSeconds, disposition: args.disposition ?? "attachment" });
      },
    }),
  }),
});

const CreateFolderInput = builder.inputType("CreateFolderInput", {
  description: "Either `path` (with `createParents` to make missing folders), or `parentId` and `name`.",
  fields: (t) => ({
    spaceId: t.id(),
    path: t.string({ required: false }),
    createParents: t.boolean({ required: false, defaultValue: false }),
    parentId: t.id({ required: false }),
    name: t.string({ required: false }),
  }),
});

builder.queryFields((t) => ({
  entry: t.prismaField({
    type: EntryRef,
    nullable: true,
    description: "The entry at `path` in a space (one SQL round trip), or null when nothing is there.",
    args: { spaceId: t.arg.id(), path: t.arg.string() },
    resolve: async (query, _root, args, ctx) => {
      const viewer = await ctx.viewer();
      await requireSpacePermission(ctx.prisma, viewer, args.spaceId, "assets:read");
      const segments = normalizePath(args.path);
      const chain = await resolveChain(ctx.prisma, args.spaceId, segments);
      if (chain.length !== segments.length + 1) return null;
      return ctx.prisma.entry.findUnique({ ...query, where: { id: chain[chain.length - 1]!.id } });
    },
  }),
}));

builder.mutationFields((t) => ({
  createFolder: t.prismaField({
    type: FolderRef,
    args: { input: t.arg({ type: CreateFolderInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const folder = await ctx.deps.services.entries.createFolder(await ctx.viewer(), input);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: folder.id } });
    },
  }),
}));
