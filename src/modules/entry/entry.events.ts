// The entry events, recorded in the transaction of the change (events/):
// what spaceEvents subscribers see as CREATED, UPDATED, MOVED and DELETED.
import type { Tx } from "../../db/prisma.ts";
import { recordEvent } from "../../events/event-log.ts";
import type { EntryChange } from "../../events/event-types.ts";

type EntryRow = { id: string; spaceId: string; parentId: string | null; name: string; kind: "FOLDER" | "FILE" };

const facts = (e: EntryRow) => ({ name: e.name, kind: e.kind, parentId: e.parentId });

export function recordEntryCreated(tx: Tx, e: EntryRow): void {
  recordEvent(tx, { type: "entry.created", spaceId: e.spaceId, subjectId: e.id, payload: facts(e) });
}

export function recordEntryUpdated(tx: Tx, e: EntryRow, change: EntryChange, previousName?: string): void {
  recordEvent(tx, {
    type: "entry.updated",
    spaceId: e.spaceId,
    subjectId: e.id,
    payload: { ...facts(e), change, ...(previousName === undefined ? {} : { previousName }) },
  });
}

export function recordEntryMoved(tx: Tx, e: EntryRow, before: { parentId: string | null; name: string }, path: string): void {
  recordEvent(tx, {
    type: "entry.moved",
    spaceId: e.spaceId,
    subjectId: e.id,
    payload: { ...facts(e), previousParentId: before.parentId, previousName: before.name, path },
  });
}

/** `deletedCount`: entries that went, the entry itself included. */
export function recordEntryDeleted(tx: Tx, e: EntryRow, deletedCount: number): void {
  recordEvent(tx, { type: "entry.deleted", spaceId: e.spaceId, subjectId: e.id, payload: { ...facts(e), deletedCount } });
}
