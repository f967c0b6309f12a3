// Turn assembly: a conversation's messages and what processing made of their
// attachments, as the exact request input of a model provider (OpenAI Chat
// Completions, OpenAI Responses, Anthropic Messages). Pure apart from the
// caller's callbacks (signed URLs, variant bytes): no database, no store, no
// provider SDK. The SDKs are dev dependencies only; test/model-input.test.ts
// proves that each output is assignable to their request types.
//
// The caller (Conversation.modelInput) loads the messages with their attachments
// and processing results, and passes an AttachmentSource that signs URLs and
// reads variant bytes through the blob service. README "Model input" and
// docs/decisions.md 51 describe the output.
import { errors } from "../../errors.ts";
import { type AnthropicMessagesInput, toAnthropicMessages } from "./anthropic-messages.ts";
import type { AttachmentSource, InputMessage, ModelInputFormat, ModelInputOptions } from "./assemble.ts";
import { type OpenAIChatInput, toOpenAIChat } from "./openai-chat.ts";
import { type OpenAIResponsesInput, toOpenAIResponses } from "./openai-responses.ts";

export * from "./assemble.ts";
export * from "./image-size.ts";
export { type AnthropicMessagesInput, CONVERSATION_STARTS_WITH_AGENT } from "./anthropic-messages.ts";
export type { OpenAIChatInput } from "./openai-chat.ts";
export type { OpenAIResponsesInput } from "./openai-responses.ts";
export { toAnthropicMessages, toOpenAIChat, toOpenAIResponses };

export type ModelInputByFormat = {
  OPENAI_CHAT: OpenAIChatInput;
  OPENAI_RESPONSES: OpenAIResponsesInput;
  ANTHROPIC_MESSAGES: AnthropicMessagesInput;
};

/** The conversation in `options.format`'s shape: `{ messages }`, `{ input }` or `{ system?, messages }`. */
export function buildModelInput<F extends ModelInputFormat>(
  messages: readonly InputMessage[],
  source: AttachmentSource,
  options: ModelInputOptions & { format: F },
): Promise<ModelInputByFormat[F]>;
export function buildModelInput(
  messages: readonly InputMessage[],
  source: AttachmentSource,
  options: ModelInputOptions,
): Promise<ModelInputByFormat[ModelInputFormat]> {
  switch (options.format) {
    case "OPENAI_CHAT":
      return toOpenAIChat(messages, source, options);
    case "OPENAI_RESPONSES":
      return toOpenAIResponses(messages, source, options);
    case "ANTHROPIC_MESSAGES":
      return toAnthropicMessages(messages, source, options);
    default:
      throw errors.badInput(`Unknown model input format ${String(options.format)}`, { format: options.format });
  }
}
