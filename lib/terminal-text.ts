/**
 * Text from a user, a file or another server, as the operator scripts print it on a terminal: never a character that
 * drives the terminal or garbles the line, and never an unbounded echo of what was typed.
 */

/**
 * What must not reach a terminal from outside: control characters (a newline breaks a table or a one-line message, an
 * escape sequence drives the terminal), line and paragraph separators, the bidirectional controls that turn text
 * around, and a byte-order mark. Joiners (ZWJ, ZWNJ) stay: Persian words and emoji sequences need them.
 */
export const terminalHazards = /[\p{Cc}\p{Zl}\p{Zp}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u;

const everyTerminalHazard = new RegExp(terminalHazards.source, 'gu');

/** The text with each of those characters shown as U+FFFD. */
export const printable = (text: string): string => text.replace(everyTerminalHazard, '\uFFFD');

/** The text cut to `max` characters (code points), with an ellipsis when it was longer: for echoing a user's input. */
export function clipped(text: string, max = 64): string {
  const characters = [...text];
  return characters.length > max ? `${characters.slice(0, max).join('')}…` : text;
}
