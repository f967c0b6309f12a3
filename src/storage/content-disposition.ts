// RFC 6266 Content-Disposition with an ASCII fallback `filename` and the exact
// name in `filename*` (RFC 8187), so unicode names survive every browser.

const ATTR_CHAR = /[A-Za-z0-9!#$&+.^_`|~-]/;

function encodeRfc8187(value: string): string {
  let out = "";
  for (const byte of Buffer.from(value, "utf8")) {
    const ch = String.fromCharCode(byte);
    out += byte < 0x80 && ATTR_CHAR.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

export function contentDisposition(type: "inline" | "attachment", fileName?: string): string {
  if (!fileName) return type;
  // Fallback keeps printable ASCII except quote and backslash; the rest becomes "_".
  const fallback = fileName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^\x20-\x7e]|["\\]/g, "_");
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(fileName)}`;
}
