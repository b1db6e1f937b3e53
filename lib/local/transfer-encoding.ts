/**
 * RFC 9112 section 6.1 for the local gateway: `chunked` is the one transfer coding it applies, and an HTTP/1.0 request
 * cannot be framed by one at all. Node's parser frames a body by a final `chunked` whatever comes before it, so without
 * this check `Transfer-Encoding: gzip, chunked` would hand the handlers gzip's bytes as the body (a misleading "not
 * valid UTF-8"), and a form sent so would be stored as if no coding had been named.
 */
import type { IncomingMessage } from 'node:http';

/**
 * An element without HTTP's own whitespace around it (RFC 9110 section 5.6.1's OWS: spaces and tabs). Not `trim`, which
 * also takes U+00A0, what Node's latin-1 reading makes of a 0xA0 byte, and so would pass a coding that is no `chunked`;
 * and not `/[ \t]+$/`, whose time grows with the square of a run of blanks inside a 16 KB header.
 */
function withoutOws(text: string): string {
  const blank = (at: number) => text[at] === ' ' || text[at] === '\t';
  let start = 0;
  let end = text.length;
  while (start < end && blank(start)) start += 1;
  while (end > start && blank(end - 1)) end -= 1;
  return text.slice(start, end);
}

/** Why the gateway refuses a request's Transfer-Encoding (400, and the connection closes), or undefined. */
export function transferEncodingProblem(request: IncomingMessage): string | undefined {
  const header = request.headers['transfer-encoding'];
  if (header === undefined) return undefined;
  if (request.httpVersion === '1.0') return 'An HTTP/1.0 request cannot carry Transfer-Encoding: send a Content-Length, or use HTTP/1.1';
  const codings = header
    .split(',')
    .map((coding) => withoutOws(coding).toLowerCase())
    .filter((coding) => coding !== '');
  const other = codings.filter((coding) => coding !== 'chunked');
  if (other.length === 0) return undefined;
  return `Transfer-Encoding ${other.join(', ')} is not supported: send the body as it is, with Content-Length or Transfer-Encoding: chunked alone`;
}
