// CORS for SSE: the headers an allowed origin's answers carry (which origins: see `Admission.cors`).

/** A refusal with the CORS headers, so a page on an allowed origin can read its status and `Retry-After`. */
export function withCorsHeaders(response: Response, cors: Record<string, string>): Response {
  const headers = new Headers(response.headers)
  for (const name in cors) headers.set(name, cors[name]!)
  return new Response(response.body, { status: response.status, headers })
}

/** `headers` (the application's extra SSE headers) with `extra` set on top. */
export function withExtraHeaders(headers: HeadersInit | undefined, extra: Record<string, string>): HeadersInit {
  if (headers === undefined) return extra
  const merged = new Headers(headers)
  for (const name in extra) merged.set(name, extra[name]!)
  return merged
}
