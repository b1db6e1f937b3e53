/**
 * The Host header read by RFC 3986's grammar (RFC 9112 section 3.2 refers to it): a host, which is a registered name,
 * an IPv4 address or a bracketed IP literal (an IPv6 address, with an RFC 6874 zone id such as `%25eth0`), and an
 * optional port of digits (an empty name with a port, `:80`, is refused: an http URI's host is never empty). The local
 * gateway refuses a Host that does not parse (400), as RFC 9112 has a server do; `/openapi.json` names only one that is
 * also a DNS name or an IP address ({@link isHostName}), with a port a client can use, in its document.
 */
import { isIPv6 } from 'node:net';

export interface HostHeader {
  readonly name: string;
  /** The port's digits as sent; undefined when there is no port, or an empty one (`host:`). */
  readonly port: string | undefined;
}

/** Unreserved characters, percent-encodings and sub-delimiters: what a registered name (or an IPv4 address) is made of. */
const registeredName = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/;
/** An IPvFuture literal's inside. */
const ipFuture = /^v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/;
/** An RFC 6874 zone id, after its `%25`. */
const zoneId = /^(?:[A-Za-z0-9\-._~]|%[0-9A-Fa-f]{2})+$/;

/** A bracketed IP literal: an IPv6 address (optionally with a zone id) or an IPvFuture. */
function isIpLiteral(name: string): boolean {
  if (!name.startsWith('[') || !name.endsWith(']')) return false;
  const inside = name.slice(1, -1);
  if (ipFuture.test(inside)) return true;
  const zoneAt = inside.indexOf('%25');
  // Node's isIPv6 takes a raw `%zone` too; in a URI the `%` is encoded.
  const address = zoneAt === -1 ? inside : inside.slice(0, zoneAt);
  return !address.includes('%') && isIPv6(address) && (zoneAt === -1 || zoneId.test(inside.slice(zoneAt + 3)));
}

export function parseHostHeader(value: string): HostHeader | undefined {
  const portAt = value.startsWith('[') ? value.indexOf(']') + 1 : value.lastIndexOf(':');
  const hasPort = portAt > 0 && value[portAt] === ':';
  const name = hasPort ? value.slice(0, portAt) : portAt > 0 && portAt < value.length ? undefined : value;
  if (name === undefined) return undefined;
  const port = hasPort ? value.slice(portAt + 1) : '';
  if (!/^\d*$/.test(port)) return undefined;
  if (name.startsWith('[') ? !isIpLiteral(name) : !registeredName.test(name)) return undefined;
  return { name, port: port === '' ? undefined : port };
}

/** A DNS name (letters, digits and inner hyphens in dot-separated labels, a trailing dot allowed) or an IPv4 address. */
const dnsName = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$/;

/**
 * Whether a parsed Host names a machine as a URL a client can use does: a DNS name, an IPv4 address or an IP literal.
 * RFC 3986 lets a registered name hold sub-delimiters and percent-encodings (`x'y`, `a%2Fb`), which the grammar takes
 * but no document should repeat as a server's URL.
 */
export const isHostName = (name: string): boolean => (name.startsWith('[') ? isIpLiteral(name) : dnsName.test(name));

/** A port a client can connect to: 1 to 65535. */
export const isUsablePort = (port: string): boolean => Number(port) >= 1 && Number(port) <= 65535;
