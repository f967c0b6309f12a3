// FILE entries as owners of two-stage uploads (the blob lifecycle's "ENTRY"
// kind). A pending blob names its entry in `upload_entry_id`: a new FILE entry
// made with it (pointing at it, so listings show the file as PENDING), or an
// existing file it will replace. Completion swaps the entry's pointer.
import type { Tx } from "../../db/prisma.ts";
import type { Blob } from "../../generated/prisma/client.ts";
import type { BlobOwner } from "../blob/blob.service.ts";
import { recordEntryDeleted, recordEntryUpdated } from "../entry/entry.events.ts";
import { lockSpaceTree } from "../entry/entry-tree.sql.ts";

const uploadTarget = (tx: Tx, blob: Blob) => (blob.uploadEntryId ? tx.entry.findUnique({ where: { id: blob.uploadEntryId }, include: { blob: true } }) : null);

// Both record their entry's event in the lifecycle's transaction (transactionWithEvents).
export function createAssetBlobOwner(): BlobOwner {
  return {
    // Deleting a folder takes the tree lock, then deletes blob rows: the same order here.
    lock: (tx, blob) => lockSpaceTree(tx, blob.spaceId, "shared"),

    async attach(tx, blob) {
      const entry = await uploadTarget(tx, blob);
      if (!entry) return null;
      const replaced = entry.blob && entry.blob.id !== blob.id ? entry.blob : null;
      const updated = await tx.entry.update({ where: { id: entry.id }, data: { blobId: blob.id, size: blob.size, updatedAt: new Date() } });
      // The entry was announced (CREATED) when the upload began; now its content arrived.
      recordEntryUpdated(tx, updated, "CONTENT");
      return { replaced };
    },

    // A new file whose only content was this upload goes with it; a file it would have replaced keeps its bytes.
    async detach(tx, blob) {
      const entry = await uploadTarget(tx, blob);
      if (entry?.blobId === blob.id) {
        await tx.entry.delete({ where: { id: entry.id } });
        recordEntryDeleted(tx, entry, 1);
      }
    },
  };
}
