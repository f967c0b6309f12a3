// node(id): refetch anything by its prefixed id, through the same access rules
// as the type's own queries. Ids the caller may not see resolve to null.
import { brandWithType } from "@pothos/core";
import { canManageAccount } from "../../access/account-access.ts";
import { canSeeSpace, hasPermission } from "../../access/space-access.ts";
import { builder } from "../../graphql/builder.ts";
import type { Context } from "../../graphql/context.ts";
import { idKind } from "../../ids.ts";
import { AccountRef, ApiTokenRef } from "../account/account.graphql.ts";
import { OrganizationRef } from "../organization/organization.graphql.ts";
import { AssetRef } from "../asset/asset.graphql.ts";
import { FolderRef } from "../entry/entry.graphql.ts";
import { SpaceRef } from "../space/space.graphql.ts";

async function loadNode(id: string, ctx: Context): Promise<object | null> {
  const viewer = await ctx.viewer();
  switch (idKind(id)) {
    case "Space": {
      const space = await ctx.prisma.space.findUnique({ where: { id } });
      if (!space || !canSeeSpace(viewer, space)) return null;
      brandWithType(space, SpaceRef);
      return space;
    }
    case "Entry": {
      const entry = await ctx.prisma.entry.findUnique({ where: { id }, include: { space: { select: { id: true, organizationId: true } } } });
      if (!entry || !hasPermission(viewer, entry.space, "assets:read")) return null;
      brandWithType(entry, entry.kind === "FOLDER" ? FolderRef : AssetRef);
      return entry;
    }
    case "Account": {
      const account = await ctx.prisma.account.findUnique({ where: { id } });
      const visible = account && (account.id === viewer.accountId || (viewer.isOrgAdmin && account.organizationId === viewer.organizationId));
      if (!visible) return null;
      brandWithType(account, AccountRef);
      return account;
    }
    case "ApiToken": {
      const token = await ctx.prisma.apiToken.findUnique({ where: { id }, include: { account: { select: { id: true, organizationId: true } } } });
      if (!token || !canManageAccount(viewer, token.account)) return null;
      brandWithType(token, ApiTokenRef);
      return token;
    }
    case "Organization": {
      if (id !== viewer.organizationId) return null;
      const org = await ctx.prisma.organization.findUnique({ where: { id } });
      if (org) brandWithType(org, OrganizationRef);
      return org;
    }
    default:
      return null;
  }
}

builder.queryFields((t) => ({
  node: t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    args: { id: t.arg.id() },
    resolve: (_root, args, ctx) => loadNode(args.id, ctx) as never,
  }),
  nodes: t.field({
    type: [builder.nodeInterfaceRef()],
    nullable: { list: false, items: true },
    args: { ids: t.arg.idList() },
    resolve: (_root, args, ctx) => Promise.all(args.ids.map((id) => loadNode(id, ctx))) as never,
  }),
}));
