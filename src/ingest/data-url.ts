// data: URLs (RFC 2397) as an upload source: `data:[<mediatype>][;base64],<data>`.
// Parsed strictly, and the decoded size is computed from the encoded length and
// checked against the cap before anything is decoded.
import { Readable } from "node:stream";
import { AppError, errors } from "../errors.ts";

export type DataUrl = { mediaType: string | null; body: Readable; size: number };

const invalid = (message: string) => new AppError("INVALID_DATA_URL", message);
const BASE64_PAYLOAD = /^[A-Za-z0-9+/]*={0,2}$/;
// RFC 2397 data is URL characters; percent-escapes are decoded to bytes.
const PERCENT_PAYLOAD = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PARAMETER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+=(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"[^"]*")$/;

export function parseDataUrl(raw: string, maxBytes: number): DataUrl {
  if (!/^data:/i.test(raw)) throw invalid("A data URL starts with data:");
  const comma = raw.indexOf(",");
  if (comma < 0) throw invalid("A data URL needs a comma before its data");
  const params = raw.slice(5, comma).split(";");
  const base64 = params.length > 1 && params[params.length - 1]!.toLowerCase() === "base64";
  if (base64) params.pop();
  const [type = "", ...rest] = params;
  if (type && !MEDIA_TYPE.test(type)) throw invalid(`"${type.slice(0, 100)}" is not a media type`);
  if (!rest.every((p) => PARAMETER.test(p))) throw invalid("A data URL's media type parameters must be name=value");
  const mediaType = type ? [type, ...rest].join(";") : null;

  const payload = raw.slice(comma + 1);
  // The cap first, from the length alone: the smallest size the payload can decode to.
  const atLeast = base64 ? Math.floor((payload.length * 3) / 4) - 2 : Math.ceil(payload.length / 3);
  if (atLeast > maxBytes) throw errors.limitsReached(`The data URL holds more than ${maxBytes} bytes`, { reason: "DATA_URL_SIZE", limit: maxBytes });
  let size: number;
  if (base64) {
    if (!BASE64_PAYLOAD.test(payload) || payload.length % 4 !== 0) throw invalid("The data is not valid base64");
    size = (payload.length / 4) * 3 - (payload.endsWith("==") ? 2 : payload.endsWith("=") ? 1 : 0);
  } else {
    if (!PERCENT_PAYLOAD.test(payload)) throw invalid("The data must be URL characters or %-escapes");
    size = payload.length - 2 * (payload.match(/%/g)?.length ?? 0);
  }
  if (size > maxBytes)
    throw errors.limitsReached(`The data URL holds ${size} bytes; at most ${maxBytes} are accepted`, { reason: "DATA_URL_SIZE", limit: maxBytes });

  const bytes = base64
    ? Buffer.from(payload, "base64")
    : Buffer.from(
        payload.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
        "latin1",
      );
  return { mediaType, body: Readable.from([bytes]), size: bytes.length };
}
