// CSRF prevention for /graphql. A browser can send a "simple request" (a GET,
// or a form or multipart POST) to any site without a preflight, carrying that
// site's ambient credentials (cookies, cached HTTP auth). Such a request must
// prove it is not one: by a CSRF header (which forces a preflight), or by an
// `Authorization: Bearer` header, which a page can only set through fetch with a
// preflight, and which no browser sends by itself (it sends Basic/Digest
// credentials it cached, never Bearer). Requests without either keep needing
// a CSRF header: today they are anonymous, but cookie-authenticated requests
// (the coming dashboard) will be among them. Decision 46.
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import type { Plugin } from "graphql-yoga";

/** Headers that prove a request is not a browser "simple request". */
export const CSRF_HEADERS = ["x-graphql-yoga-csrf", "apollo-require-preflight", "graphql-preflight"];

/** True for an `Authorization: Bearer <token>` value: no browser sends one unasked. */
export const isBearer = (authorization: string | null | undefined): boolean => !!authorization && /^Bearer\s+\S/i.test(authorization);

type HeaderGetter = (name: string) => string | null | undefined;

/** Whether a request of a browser-forgeable kind lacks what shows it was not forged. */
export function lacksCsrfProof(header: HeaderGetter): boolean {
  return !isBearer(header("authorization")) && !CSRF_HEADERS.some((h) => header(h));
}

/** Yoga's CSRF prevention (GET and simple-content-type POSTs), skipped for bearer-authenticated requests. */
export function useCsrfPrevention(): Plugin {
  const inner = useCSRFPrevention({ requestHeaders: CSRF_HEADERS });
  return {
    onRequestParse(payload) {
      if (isBearer(payload.request.headers.get("authorization"))) return;
      return inner.onRequestParse?.(payload);
    },
  };
}
