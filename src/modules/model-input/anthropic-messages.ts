// Anthropic Messages `system` + `messages`. Structural types; the tests check
// assignability to MessageCreateParams. SYSTEM messages become top-level
// `system` text blocks (in seq order); user and assistant turns must alternate,
// so consecutive messages of one role are merged into one turn whose content is
// their blocks in order, and the first turn must be the user's (a short note is
// put first when the conversation starts with the agent). Images: `image` with a url or base64 source; PDFs given
// natively: `document` with a url or base64 PDF source, titled with the filename.
import { assemble, type AttachmentSource, type InputMessage, type ModelImageType, type ModelInputOptions, type NeutralPart } from "./assemble.ts";

export type AnthropicTextBlock = { type: "text"; text: string };
export type AnthropicImageBlock = {
  type: "image";
  source: { type: "url"; url: string } | { type: "base64"; media_type: ModelImageType; data: string };
};
export type AnthropicDocumentBlock = {
  type: "document";
  title: string;
  source: { type: "url"; url: string } | { type: "base64"; media_type: "application/pdf"; data: string };
};
export type AnthropicBlock = AnthropicTextBlock | AnthropicImageBlock | AnthropicDocumentBlock;
export type AnthropicMessage = { role: "user"; content: string | AnthropicBlock[] } | { role: "assistant"; content: string | AnthropicBlock[] };

/** Spreads into a messages.create body: `{ model, max_tokens, ...input }`. `system` is absent when there is none. */
export type AnthropicMessagesInput = { system?: AnthropicTextBlock[]; messages: AnthropicMessage[] };

/** The user turn put before a conversation that starts with an agent's message. */
export const CONVERSATION_STARTS_WITH_AGENT = "[The conversation starts with a message of the agent.]";

export async function toAnthropicMessages(
  messages: readonly InputMessage[],
  source: AttachmentSource,
  options: Omit<ModelInputOptions, "format">,
): Promise<AnthropicMessagesInput> {
  const neutral = await assemble(messages, source, { ...options, format: "ANTHROPIC_MESSAGES" });
  const system: AnthropicTextBlock[] = [];
  const turns: { role: "user" | "assistant"; blocks: AnthropicBlock[] }[] = [];
  for (const m of neutral) {
    const blocks = m.parts.map(anthropicBlock);
    if (m.role === "system") {
      system.push(...blocks.filter((b) => b.type === "text"));
      continue;
    }
    const last = turns.at(-1);
    if (last?.role === m.role) last.blocks.push(...blocks);
    else turns.push({ role: m.role, blocks });
  }
  // The API refuses a first turn of the assistant (an agent's greeting, or history cut by upToSeq's caller).
  if (turns[0]?.role === "assistant") turns.unshift({ role: "user", blocks: [{ type: "text", text: CONVERSATION_STARTS_WITH_AGENT }] });
  const out: AnthropicMessagesInput = {
    messages: turns.map((t): AnthropicMessage => {
      const only = t.blocks.length === 1 ? t.blocks[0] : undefined;
      return { role: t.role, content: only?.type === "text" ? only.text : t.blocks };
    }),
  };
  return system.length > 0 ? { system, ...out } : out;
}

function anthropicBlock(p: NeutralPart): AnthropicBlock {
  switch (p.kind) {
    case "text":
      return { type: "text", text: p.text };
    case "image":
      return {
        type: "image",
        source: "url" in p.source ? { type: "url", url: p.source.url } : { type: "base64", media_type: p.source.mimeType, data: p.source.base64 },
      };
    case "document":
      return {
        type: "document",
        title: p.filename,
        source: "url" in p.source ? { type: "url", url: p.source.url } : { type: "base64", media_type: "application/pdf", data: p.source.base64 },
      };
  }
}
