// The stale-stream sweep: a STREAMING message whose author stopped sending
// deltas (crashed agent, lost connection) is completed and marked interrupted
// after CONVERSATION_STREAM_TIMEOUT_SECONDS, with its
// conversation.message_completed event. Idempotent: a second run finds nothing.
import { defineJob, type Job } from "../../jobs/job-spec.ts";
import type { MessageService } from "./message.service.ts";

export const completeStaleStreamsJob = defineJob({
  name: "message.complete_stale",
  queue: { retryLimit: 0, expireInSeconds: 300, deadLetter: "message.complete_stale.dead", policy: "singleton" },
  concurrency: 1,
  schedule: "* * * * *",
  async handle(_job: Job<Record<string, never>>, deps: { messages: MessageService; streamTimeoutSeconds: number }) {
    let completed = 0;
    for (;;) {
      const n = await deps.messages.completeStaleStreams(deps.streamTimeoutSeconds);
      completed += n;
      if (n < 500) return { completed };
    }
  },
});

export const messageJobs = [completeStaleStreamsJob] as const;
