// Account and ApiToken types; `viewer`: who am I, and what may I
// do; creating accounts and issuing and revoking tokens.
import { assertManagesAccount, canManageAccount } from "../../access/account-access.ts";
import { errors } from "../../errors.ts";
import type { ApiToken } from "../../generated/prisma/client.ts";
import { builder } from "../../graphql/builder.ts";
import { registerNodeLoader } from "../node/node-registry.ts";

export const AccountKindEnum = builder.enumType("AccountKind", { values: ["USER", "SERVICE"] as const });

export const AccountRef = builder.prismaNode("Account", {
  id: { field: "id" },
  fields: (t) => ({
    name: t.exposeString("name"),
    kind: t.expose("kind", { type: AccountKindEnum }),
    isOrgAdmin: t.exposeBoolean("isOrgAdmin"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    disabledAt: t.expose("disabledAt", {
      type: "DateTime",
      nullable: true,
      description: "Set while the account is disabled: its tokens are refused until it is enabled again.",
    }),
    grants: t.prismaConnection({
      type: "SpaceGrant",
      cursor: "id",
      description: "The account's space grants, oldest first. For the account itself and organization admins.",
      resolve: async (query, account, _args, ctx) => {
        if (query.cursor && typeof (query.cursor as { id?: unknown }).id !== "string") throw errors.badInput("Invalid cursor");
        assertManagesAccount(await ctx.viewer(), account);
        return ctx.prisma.spaceGrant.findMany({ ...query, where: { accountId: account.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      },
    }),
    tokens: t.prismaField({
      type: ["ApiToken"],
      nullable: true,
      description: "The account's API tokens, newest first, revoked ones included. For the account itself and organization admins.",
      resolve: async (query, account, _args, ctx) => {
        // Accounts are also reachable as `createdBy` by anyone reading a space; their tokens are not.
        assertManagesAccount(await ctx.viewer(), account);
        return ctx.prisma.apiToken.findMany({ ...query, where: { accountId: account.id }, orderBy: [{ createdAt: "desc" }, { id: "asc" }] });
      },
    }),
  }),
});

export const ApiTokenRef = builder.prismaNode("ApiToken", {
  id: { field: "id" },
  description: "An opaque bearer credential of an account. Its secret is returned once, by createApiToken; only a hash is stored.",
  fields: (t) => ({
    name: t.exposeString("name"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
    account: t.relation("account"),
  }),
});

// node(id) shows accounts and tokens to those who manage the account, like the token mutations.
registerNodeLoader("Account", [AccountRef], async (id, viewer, ctx) => {
  const account = await ctx.prisma.account.findUnique({ where: { id } });
  return account && canManageAccount(viewer, account) ? { type: AccountRef, node: account } : null;
});

registerNodeLoader("ApiToken", [ApiTokenRef], async (id, viewer, ctx) => {
  const token = await ctx.prisma.apiToken.findUnique({ where: { id }, include: { account: { select: { id: true, organizationId: true } } } });
  return token && canManageAccount(viewer, token.account) ? { type: ApiTokenRef, node: token } : null;
});

type SpacePermissions = { spaceId: string; permissions: string[] };
const SpacePermissionsRef = builder.objectRef<SpacePermissions>("SpacePermissions").implement({
  fields: (t) => ({ spaceId: t.exposeID("spaceId"), permissions: t.exposeStringList("permissions") }),
});

const ViewerRef = builder.objectRef<{ accountId: string; isOrgAdmin: boolean; grants: SpacePermissions[] }>("Viewer").implement({
  description: "The caller: its account and the permissions it holds per space.",
  fields: (t) => ({
    accountId: t.exposeID("accountId"),
    isOrgAdmin: t.exposeBoolean("isOrgAdmin"),
    grants: t.field({ type: [SpacePermissionsRef], resolve: (v) => v.grants }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ViewerRef,
    resolve: async (_root, _args, ctx) => {
      const v = await ctx.viewer();
      return {
        accountId: v.accountId,
        isOrgAdmin: v.isOrgAdmin,
        grants: [...v.grants].map(([spaceId, perms]) => ({ spaceId, permissions: [...perms].sort() })),
      };
    },
  }),
  account: t.prismaField({
    type: AccountRef,
    description: "The calling account.",
    resolve: async (query, _root, _args, ctx) => ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: (await ctx.viewer()).accountId } }),
  }),
}));

const CreateAccountInput = builder.inputType("CreateAccountInput", {
  fields: (t) => ({
    name: t.string(),
    kind: t.field({ type: AccountKindEnum }),
    isOrgAdmin: t.boolean({ required: false, description: "Organization admins hold every permission on every space. Default false." }),
  }),
});

const CreateApiTokenInput = builder.inputType("CreateApiTokenInput", {
  fields: (t) => ({
    accountId: t.id(),
    name: t.string(),
    expiresAt: t.field({ type: "DateTime", required: false, description: "Must be in the future; open connections using the token close at that moment." }),
  }),
});

const DeleteAccountPayload = builder.objectRef<{ id: string }>("DeleteAccountPayload").implement({
  fields: (t) => ({ id: t.exposeID("id", { description: "The deleted account." }) }),
});

const CreateApiTokenPayload = builder.objectRef<{ token: ApiToken; secret: string }>("CreateApiTokenPayload").implement({
  fields: (t) => ({
    token: t.field({ type: ApiTokenRef, resolve: (p) => p.token }),
    secret: t.exposeString("secret", { description: "The bearer secret. Returned only here, never again: store it now." }),
  }),
});

builder.mutationFields((t) => ({
  createAccount: t.prismaField({
    type: AccountRef,
    description: "A user or service account in the caller's organization (organization admins only).",
    args: { input: t.arg({ type: CreateAccountInput }) },
    resolve: async (query, _root, { input }, ctx) => {
      const account = await ctx.deps.services.accounts.createAccount(await ctx.viewer(), input);
      return ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: account.id } });
    },
  }),
  createApiToken: t.field({
    type: CreateApiTokenPayload,
    description: "A token for the caller's own account, or (organization admins) for any account of the organization.",
    args: { input: t.arg({ type: CreateApiTokenInput }) },
    resolve: async (_root, { input }, ctx) => ctx.deps.services.accounts.createApiToken(await ctx.viewer(), input),
  }),
  disableAccount: t.prismaField({
    type: AccountRef,
    description:
      "Refuses the account's tokens from now on and closes its open connections (organization admins; not the caller's own account, nor the last enabled admin: LAST_ADMIN). Idempotent.",
    args: { id: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const account = await ctx.deps.services.accounts.disableAccount(await ctx.viewer(), args.id);
      return ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: account.id } });
    },
  }),
  enableAccount: t.prismaField({
    type: AccountRef,
    description: "Lets a disabled account's tokens work again (those not revoked or expired). Organization admins. Idempotent.",
    args: { id: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const account = await ctx.deps.services.accounts.enableAccount(await ctx.viewer(), args.id);
      return ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: account.id } });
    },
  }),
  deleteAccount: t.field({
    type: DeleteAccountPayload,
    description:
      "Deletes the account with its tokens and grants and closes its open connections; entries it created stay, with createdBy null (organization admins; not the caller's own account, nor the last enabled admin).",
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => ctx.deps.services.accounts.deleteAccount(await ctx.viewer(), args.id),
  }),
  revokeApiToken: t.prismaField({
    type: ApiTokenRef,
    description: "Refuses the token from now on and closes connections opened with it. Revoking twice is harmless.",
    args: { id: t.arg.id() },
    resolve: async (query, _root, args, ctx) => {
      const token = await ctx.deps.services.accounts.revokeApiToken(await ctx.viewer(), args.id);
      return ctx.prisma.apiToken.findUniqueOrThrow({ ...query, where: { id: token.id } });
    },
  }),
}));
