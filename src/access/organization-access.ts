// Organization-level visibility. Organizations never share: an account sees its
// own organization and nothing of any other.
import type { Viewer } from "./viewer.ts";

export function canSeeOrganization(viewer: Viewer, organization: { id: string }): boolean {
  return organization.id === viewer.organizationId;
}
