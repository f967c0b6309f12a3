// OpenAI Chat Completions `messages`. Structural types of the request shapes we
// emit (the SDK is a dev dependency; the tests check assignability to
// ChatCompletionMessageParam[]). Only user messages take non-text parts; the
// `file` part takes a PDF as base64 data only (no URL form in this API).
import { assemble, type AttachmentSource, type InputMessage, type ModelInputOptions, type NeutralPart } from "./assemble.ts";

export type OpenAIChatTextPart = { type: "text"; text: string };
export type OpenAIChatImagePart = { type: "image_url"; image_url: { url: string } };
export type OpenAIChatFilePart = { type: "file"; file: { filename: string; file_data: string } };
export type OpenAIChatUserPart = OpenAIChatTextPart | OpenAIChatImagePart | OpenAIChatFilePart;

export type OpenAIChatMessage =
  | { role: "system"; content: string }
  | { role: "developer"; content: string }
  | { role: "user"; content: string | OpenAIChatUserPart[] }
  | { role: "assistant"; content: string };

/** Spreads into a chat.completions.create body: `{ model, ...input }`. */
export type OpenAIChatInput = { messages: OpenAIChatMessage[] };

export async function toOpenAIChat(
  messages: readonly InputMessage[],
  source: AttachmentSource,
  options: Omit<ModelInputOptions, "format">,
): Promise<OpenAIChatInput> {
  const neutral = await assemble(messages, source, { ...options, format: "OPENAI_CHAT" });
  const systemRole = options.openaiSystemRole ?? "system";
  return {
    messages: neutral.map((m): OpenAIChatMessage => {
      if (m.role === "system") return { role: systemRole, content: joinText(m.parts) };
      if (m.role === "assistant") return { role: "assistant", content: joinText(m.parts) };
      const parts = m.parts.map(chatPart);
      const only = parts.length === 1 ? parts[0] : undefined;
      return { role: "user", content: only?.type === "text" ? only.text : parts };
    }),
  };
}

function chatPart(p: NeutralPart): OpenAIChatUserPart {
  switch (p.kind) {
    case "text":
      return { type: "text", text: p.text };
    case "image":
      return { type: "image_url", image_url: { url: "url" in p.source ? p.source.url : dataUrl(p.source.mimeType, p.source.base64) } };
    case "document":
      if ("url" in p.source) throw new Error("Chat Completions takes a PDF only as base64 data"); // assemble never asks for it (FORMAT_TRAITS)
      return { type: "file", file: { filename: p.filename, file_data: dataUrl("application/pdf", p.source.base64) } };
  }
}

export const dataUrl = (mimeType: string, base64: string) => `data:${mimeType};base64,${base64}`;

/** Non-user messages carry text only (assemble describes their attachments in words). */
export const joinText = (parts: NeutralPart[]) =>
  parts
    .filter((p) => p.kind === "text")
    .map((p) => p.text)
    .join("\n\n");
