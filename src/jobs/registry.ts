// The job registry: every job spec of every module, in one list. The job map
// (what `queue.send(name, data)` accepts), the queues, the schedules and the
// workers are all derived from it, so a new job is one spec in its module's
// <noun>.jobs.ts plus, for a new module, one entry here.
import { eventJobs } from "../events/events.jobs.ts";
import { attachmentJobs } from "../modules/attachment/attachment.jobs.ts";
import { blobJobs } from "../modules/blob/blob.jobs.ts";
import { messageJobs } from "../modules/message/message.jobs.ts";
import { processingJobs } from "../modules/processing/processing.jobs.ts";
import { webhookJobs } from "../modules/webhook/webhook.jobs.ts";
import type { JobSpec } from "./job-spec.ts";

export const JOBS = [...blobJobs, ...eventJobs, ...messageJobs, ...processingJobs, ...webhookJobs, ...attachmentJobs] as const;

type AnyJob = (typeof JOBS)[number];
type DataOf<J> = J extends JobSpec<string, infer Data, never> ? Data : never;
type NeedsOf<J> = J extends JobSpec<string, never, infer Needs> ? Needs : never;
type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

export type JobName = AnyJob["name"];
/** Job name -> its data. Sending an unknown name, or the wrong data, does not compile. */
export type JobMap = { [J in AnyJob as J["name"]]: DataOf<J> };
/** Everything the handlers need, together: deps.ts hands this to the workers. */
export type JobDeps = UnionToIntersection<NeedsOf<AnyJob>>;
