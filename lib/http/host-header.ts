/**
 * The Host header read by RFC 3986's grammar (RFC 9112 section 3.2 refers to it): a host, which is a registered name,
 * an IPv4 address or a bracketed IP literal (an IPv6 address, with an RFC 6874 zone id such as `%25eth0`), and an
 * optional port of digits. The local gateway refuses a Host that does not parse (400), as RFC 9112 has a server do;
 * `/openapi.json` names only a Host that parses, with a port a client can use, in its document.
 */
export interface HostHeader {
  readonly name: string;
  /** The port's digits as sent; undefined when there is no port, or an empty one (`host:`). */
  readonly port: string | undefined;
}

/** Unreserved characters, percent-encodings and sub-delimiters: what a registered name (or an IPv4 address) is made of. */
const registeredName = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
/** An IPv6 address (hex digits, colons, an IPv4 tail), optionally with a zone id, or an IPvFuture literal. */
const ipLiteral = /^\[(?:[0-9A-Fa-f:.]+(?:%25(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+)?|v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]$/;

export function parseHostHeader(value: string): HostHeader | undefined {
  const portAt = value.startsWith('[') ? value.indexOf(']') + 1 : value.lastIndexOf(':');
  const hasPort = portAt > 0 && value[portAt] === ':';
  const name = hasPort ? value.slice(0, portAt) : portAt > 0 && portAt < value.length ? undefined : value;
  if (name === undefined) return undefined;
  const port = hasPort ? value.slice(portAt + 1) : '';
  if (!/^\d*$/.test(port)) return undefined;
  if (name.startsWith('[') ? !ipLiteral.test(name) : !registeredName.test(name)) return undefined;
  return { name, port: port === '' ? undefined : port };
}

/** A port a client can connect to: 1 to 65535. */
export const isUsablePort = (port: string): boolean => Number(port) >= 1 && Number(port) <= 65535;
