// uploadAsset: GraphQL multipart upload (graphql-upload-minimal in front of
// yoga, see app.ts), streamed to the blob store by asset.service.ts.
import { builder } from "../../graphql/builder.ts";
import { AssetRef } from "../entry/entry.graphql.ts";

const UploadAssetInput = builder.inputType("UploadAssetInput", {
  fields: (t) => ({
    spaceId: t.id(),
    path: t.string({ description: "Where the file goes, e.g. `photos/profile.png`. An existing file there is overwritten." }),
    file: t.field({ type: "Upload" }),
    mimeType: t.string({ required: false, description: "Overrides the type the multipart part declared." }),
    createParents: t.boolean({ required: false, defaultValue: false }),
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
