// Asset (a FILE entry) and its uploads. uploadAsset: GraphQL multipart upload (graphql-upload-minimal in front of
// yoga, see app.ts), streamed to the blob store by asset.service.ts.
import { canSeeEntry } from "../../access/entry-access.ts";
import { builder } from "../../graphql/builder.ts";
import { EntryRef, FolderRef } from "../entry/entry.graphql.ts";
import { registerNodeLoader } from "../node/node-registry.ts";

export const BlobStatusEnum = builder.enumType("BlobStatus", { values: ["PENDING", "READY", "FAILED"] as const });
export const DispositionEnum = builder.enumType("Disposition", {
  values: { INLINE: { value: "inline" }, ATTACHMENT: { value: "attachment" } } as const,
});

// Files are addressed like object-storage keys: missing folders on the way are
// created unless the client opts out, as REST has always done (decisions.md 34).
const CREATE_PARENTS = "Create missing folders on the way to `path` (default true, as REST does). `false` answers NOT_FOUND instead.";

export const AssetRef = builder.prismaNode("Entry", {
  variant: "Asset",
  id: { field: "id" },
  interfaces: [EntryRef],
  fields: (t) => ({
    mimeType: t.string({
      select: { blob: { select: { contentType: true } } },
      resolve: (e) => e.blob?.contentType ?? "application/octet-stream",
    }),
    size: t.expose("size", { type: "SafeInt", description: "Bytes." }),
    sha256: t.string({
      nullable: true,
      select: { blob: { select: { sha256: true } } },
      resolve: (e) => e.blob?.sha256 ?? null,
    }),
    metadata: t.field({
      type: "JSON",
      description: "What is known about the bytes: your `meta` from a two-stage upload, and processing results.",
      select: { blob: { select: { metadata: true } } },
      resolve: (e) => e.blob?.metadata ?? {},
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
      resolve: async (e, args, ctx) => (await ctx.deps.services.assets.downloadUrl(e, args)).url,
    }),
  }),
});

// Entry ids are Folders or Assets; registered here, the one module that knows both types.
registerNodeLoader("Entry", [FolderRef, AssetRef], async (id, viewer, ctx) => {
  const entry = await ctx.prisma.entry.findUnique({ where: { id }, include: { space: { select: { id: true, organizationId: true } } } });
  if (!entry || !canSeeEntry(viewer, entry)) return null;
  return { type: entry.kind === "FOLDER" ? FolderRef : AssetRef, node: entry };
});

const UploadAssetInput = builder.inputType("UploadAssetInput", {
  fields: (t) => ({
    spaceId: t.id(),
    path: t.string({ description: "Where the file goes, e.g. `photos/profile.png`. An existing file there is overwritten." }),
    file: t.field({ type: "Upload" }),
    mimeType: t.string({ required: false, description: "Overrides the type the multipart part declared." }),
    createParents: t.boolean({ required: false, defaultValue: true, description: CREATE_PARENTS }),
  }),
});

builder.mutationFields((t) => ({
  uploadAsset: t.prismaField({
    type: AssetRef,
    args: { input: t.arg({ type: UploadAssetInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const viewer = await ctx.viewer();
      const file = await input.file;
      const entry = await ctx.deps.services.assets.uploadAsset(viewer, {
        spaceId: input.spaceId,
        path: input.path,
        body: file.createReadStream(),
        declaredType: input.mimeType ?? file.mimetype,
        createParents: input.createParents,
      });
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
}));

// ---------------------------------------------------------------------------
// Two-stage uploads: createAssetUpload -> client PUTs to uploadRequest.url ->
// completeAssetUpload (or the store/sweep completes it).

export type UploadRequestShape = { method: string; url: string; headers: Record<string, string>; expiresAt: Date };

export const UploadRequestRef = builder.objectRef<UploadRequestShape>("UploadRequest").implement({
  description: "Send the file's bytes with exactly this method, URL and headers (they are part of the signature).",
  fields: (t) => ({
    method: t.exposeString("method"),
    url: t.exposeString("url"),
    headers: t.field({ type: "JSON", description: "Header name -> value.", resolve: (r) => r.headers }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
  }),
});

const CreateAssetUploadInput = builder.inputType("CreateAssetUploadInput", {
  fields: (t) => ({
    spaceId: t.id(),
    path: t.string({ description: "Where the file goes. An existing file there is replaced when the upload completes." }),
    mimeType: t.string(),
    size: t.field({ type: "SafeInt", description: "Exact size in bytes; the store refuses any other length." }),
    sha256: t.string({ required: false, description: "Hex sha256 of the bytes; checked on completion." }),
    meta: t.field({ type: "JSON", required: false, description: "Your own JSON (at most 16 KiB), kept with the file." }),
    createParents: t.boolean({ required: false, defaultValue: true, description: CREATE_PARENTS }),
    expiresIn: t.int({ required: false, description: "Seconds the upload URL stays valid (default 900)." }),
  }),
});

const AssetUploadPayload = builder.objectRef<{ entryId: string; uploadRequest: UploadRequestShape }>("AssetUploadPayload").implement({
  fields: (t) => ({
    asset: t.prismaField({
      type: AssetRef,
      resolve: (query, p, _args, ctx) => ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: p.entryId } }),
    }),
    uploadRequest: t.field({ type: UploadRequestRef, resolve: (p) => p.uploadRequest }),
  }),
});

builder.mutationFields((t) => ({
  createAssetUpload: t.field({
    type: AssetUploadPayload,
    description:
      "Starts a two-stage upload for large files: the bytes go straight to the blob store. The size is reserved against the quota until the upload completes or is abandoned.",
    args: { input: t.arg({ type: CreateAssetUploadInput }) },
    resolve: async (_root, { input }, ctx) => {
      const { entry, uploadRequest } = await ctx.deps.services.uploads.createAssetUpload(await ctx.viewer(), {
        ...input,
        expiresInSeconds: input.expiresIn,
      });
      return { entryId: entry.id, uploadRequest };
    },
  }),
  renewAssetUpload: t.field({
    type: AssetUploadPayload,
    description: "A new upload URL for a pending upload (a URL held past its expiry gets 403).",
    args: { id: t.arg.id({ description: "The asset's id." }), expiresIn: t.arg.int({ required: false }) },
    resolve: async (_root, args, ctx) => {
      const { entry, uploadRequest } = await ctx.deps.services.uploads.renewAssetUpload(await ctx.viewer(), args.id, args.expiresIn);
      return { entryId: entry.id, uploadRequest };
    },
  }),
  completeAssetUpload: t.prismaField({
    type: AssetRef,
    description:
      "Checks the uploaded bytes (size, sha256 when declared, content type) and makes them the file's content. Idempotent. UPLOAD_INCOMPLETE while the bytes have not arrived.",
    args: { id: t.arg.id({ description: "The asset's id." }) },
    resolve: async (query, _root, args, ctx) => {
      const entry = await ctx.deps.services.uploads.completeAssetUpload(await ctx.viewer(), args.id);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
}));

const ImportAssetFromUrlInput = builder.inputType("ImportAssetFromUrlInput", {
  fields: (t) => ({
    spaceId: t.id(),
    path: t.string(),
    url: t.string({ description: "An http(s) URL. Private, loopback and link-local addresses are refused (URL_FORBIDDEN)." }),
    createParents: t.boolean({ required: false, defaultValue: true, description: CREATE_PARENTS }),
  }),
});

builder.mutationFields((t) => ({
  importAssetFromUrl: t.prismaField({
    type: AssetRef,
    description: "Fetches a file from a URL on the server side and stores it like an upload. URL_FETCH_FAILED when the source fails.",
    args: { input: t.arg({ type: ImportAssetFromUrlInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const entry = await ctx.deps.services.assets.importAssetFromUrl(await ctx.viewer(), input);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
}));

const UpdateAssetMetadataInput = builder.inputType("UpdateAssetMetadataInput", {
  fields: (t) => ({
    id: t.id({ description: "The asset's id." }),
    meta: t.field({ type: "JSON", required: false, description: "Your own JSON (at most 16 KiB), replacing what the file had; null clears it." }),
  }),
});

builder.mutationFields((t) => ({
  updateAssetMetadata: t.prismaField({
    type: AssetRef,
    description: "Replaces the file's `meta` (shown under `metadata.meta`); processing results stay (requires assets:update).",
    args: { input: t.arg({ type: UpdateAssetMetadataInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const entry = await ctx.deps.services.assets.updateAssetMetadata(await ctx.viewer(), input);
      return ctx.prisma.entry.findUniqueOrThrow({ ...query, where: { id: entry.id } });
    },
  }),
}));
