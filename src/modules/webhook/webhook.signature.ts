// How deliveries are signed (the README's "Verifying a delivery" shows the
// receiving side). Stripe's scheme:
//   signed content = `${timestamp}.${body}`  (timestamp: the Cabinet-Timestamp header,
//                                             Unix seconds; body: the raw request body)
//   signature      = hex(HMAC-SHA256(key = the webhook secret's UTF-8 bytes, signed content))
//   header         = Cabinet-Signature: t=<timestamp>,v1=<signature>
// Each attempt is signed anew with its own timestamp, so receivers can refuse
// stale timestamps (replays) and still accept a retry.
import { createHmac } from "node:crypto";
import { randomToken } from "../../ids.ts";

export const SIGNATURE_HEADER = "cabinet-signature";

/** A new webhook secret: `whsec_` and 256 random bits. The whole string is the key. */
export const newWebhookSecret = () => `whsec_${randomToken(32)}`;

export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", Buffer.from(secret, "utf8")).update(`${timestamp}.${body}`, "utf8").digest("hex");
}

/** The Cabinet-Signature header value of one attempt. */
export const signatureHeader = (secret: string, timestamp: number, body: string) => `t=${timestamp},v1=${signatureOf(secret, timestamp, body)}`;
