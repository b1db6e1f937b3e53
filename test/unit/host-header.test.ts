/** The Host header by RFC 3986's grammar: what the local gateway refuses (400) and /openapi.json will not name. */
import { isHostName, isUsablePort, parseHostHeader } from '../../lib/http/host-header.js';

describe('parseHostHeader', () => {
  it('reads names, addresses and IP literals (with a zone id), with or without a port', () => {
    expect(parseHostHeader('api.example.com')).toEqual({ name: 'api.example.com', port: undefined });
    expect(parseHostHeader('localhost:3000')).toEqual({ name: 'localhost', port: '3000' });
    expect(parseHostHeader('localhost.:3000')).toEqual({ name: 'localhost.', port: '3000' });
    expect(parseHostHeader('127.0.0.1:80')).toEqual({ name: '127.0.0.1', port: '80' });
    expect(parseHostHeader('[::1]:3000')).toEqual({ name: '[::1]', port: '3000' });
    expect(parseHostHeader('[fe80::1%25eth0]:3000')).toEqual({ name: '[fe80::1%25eth0]', port: '3000' });
    expect(parseHostHeader('[::ffff:127.0.0.1]')).toEqual({ name: '[::ffff:127.0.0.1]', port: undefined });
    expect(parseHostHeader('a_b')).toEqual({ name: 'a_b', port: undefined });
    expect(parseHostHeader('[v1.fe80::a+en1]')).toEqual({ name: '[v1.fe80::a+en1]', port: undefined });
    // Empty, as a client sends it for a target without an authority; an empty port is no port.
    expect(parseHostHeader('')).toEqual({ name: '', port: undefined });
    expect(parseHostHeader('x:')).toEqual({ name: 'x', port: undefined });
  });

  it('refuses what is no host with an optional port', () => {
    const notIpLiterals = ['[1.2.3.4]', '[:]', '[.]', '[1:2:3:4:5:6:7:8:9]', '[12345::]', '[fe80::1%eth0]'];
    for (const value of ['bad host/x', 'a.example"><script>', 'evil.example/phish?', 'x:80:80', 'x:abc', '[::1', '[::1]x', '[::1]:x', '[zz::]', ':3000', 'a%zz', 'héllo', ...notIpLiterals]) {
      expect([value, parseHostHeader(value)]).toEqual([value, undefined]);
    }
  });

  it('tells names a URL of a server can carry from what the grammar also takes', () => {
    expect(['api.example.com', 'localhost.', '127.0.0.1', '[::1]', 'a-b.c'].map(isHostName)).toEqual([true, true, true, true, true]);
    expect(["x'onerror=alert(1)", 'a%2Fb', 'a;b=c', 'a_b', '-a', '', 'a..b'].map(isHostName)).toEqual([false, false, false, false, false, false, false]);
  });

  it('tells the ports a client can connect to', () => {
    expect(['1', '65535', '0', '65536', '99999'].map(isUsablePort)).toEqual([true, true, false, false, false]);
  });
});
