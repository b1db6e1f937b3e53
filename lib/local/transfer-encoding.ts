/**
 * RFC 9112 section 6.1 for the local gateway: `chunked` is the one transfer coding it applies, and an HTTP/1.0 request
 * cannot be framed by one at all. Node's parser frames a body by a final `chunked` whatever comes before it, so without
 * this check `Transfer-Encoding: gzip, chunked` would hand the handlers gzip's bytes as the body (a misleading "not
 * valid UTF-8"), and a form sent so would be stored as if no coding had been named.
 */
import type { IncomingMessage } from 'node:http';

/** Why the gateway refuses a request's Transfer-Encoding (400, and the connection closes), or undefined. */
export function transferEncodingProblem(request: IncomingMessage): string | undefined {
  const header = request.headers['transfer-encoding'];
  if (header === undefined) return undefined;
  if (request.httpVersion === '1.0') return 'An HTTP/1.0 request cannot carry Transfer-Encoding: send a Content-Length, or use HTTP/1.1';
  // Only HTTP's own whitespace (RFC 9110 section 5.6.1's OWS, spaces and tabs) around each element: `trim` would also
  // take U+00A0, which Node's latin-1 reading of a 0xA0 byte makes, and so pass a coding that is no `chunked`.
  const codings = header
    .split(',')
    .map((coding) => coding.replace(/^[ \t]+|[ \t]+$/g, '').toLowerCase())
    .filter((coding) => coding !== '');
  const other = codings.filter((coding) => coding !== 'chunked');
  if (other.length === 0) return undefined;
  return `Transfer-Encoding ${other.join(', ')} is not supported: send the body as it is, with Content-Length or Transfer-Encoding: chunked alone`;
}
