// OpenAI Responses `input`: EasyInputMessage items. Structural types; the tests
// check assignability to ResponseInput. User content takes input_text,
// input_image (URL or data URL; `detail` is required by the API) and input_file
// (file_url or a data URL in file_data). Assistant items carry a plain string:
// the API refuses input_text parts in assistant messages.
import { assemble, type AttachmentSource, type InputMessage, type ModelInputOptions, type NeutralPart } from "./assemble.ts";
import { dataUrl, joinText } from "./openai-chat.ts";

export type OpenAIResponsesContent =
  | { type: "input_text"; text: string }
  | { type: "input_image"; image_url: string; detail: "auto" }
  | { type: "input_file"; filename: string; file_url: string }
  | { type: "input_file"; filename: string; file_data: string };

export type OpenAIResponsesItem =
  | { role: "system"; content: string }
  | { role: "developer"; content: string }
  | { role: "user"; content: string | OpenAIResponsesContent[] }
  | { role: "assistant"; content: string };

/** Spreads into a responses.create body: `{ model, ...input }`. */
export type OpenAIResponsesInput = { input: OpenAIResponsesItem[] };

export async function toOpenAIResponses(
  messages: readonly InputMessage[],
  source: AttachmentSource,
  options: Omit<ModelInputOptions, "format">,
): Promise<OpenAIResponsesInput> {
  const neutral = await assemble(messages, source, { ...options, format: "OPENAI_RESPONSES" });
  const systemRole = options.openaiSystemRole ?? "system";
  return {
    input: neutral.map((m): OpenAIResponsesItem => {
      if (m.role === "system") return { role: systemRole, content: joinText(m.parts) };
      if (m.role === "assistant") return { role: "assistant", content: joinText(m.parts) };
      const parts = m.parts.map(responsesPart);
      const only = parts.length === 1 ? parts[0] : undefined;
      return { role: "user", content: only?.type === "input_text" ? only.text : parts };
    }),
  };
}

function responsesPart(p: NeutralPart): OpenAIResponsesContent {
  switch (p.kind) {
    case "text":
      return { type: "input_text", text: p.text };
    case "image":
      return { type: "input_image", image_url: "url" in p.source ? p.source.url : dataUrl(p.source.mimeType, p.source.base64), detail: "auto" };
    case "document":
      return "url" in p.source
        ? { type: "input_file", filename: p.filename, file_url: p.source.url }
        : { type: "input_file", filename: p.filename, file_data: dataUrl("application/pdf", p.source.base64) };
  }
}
