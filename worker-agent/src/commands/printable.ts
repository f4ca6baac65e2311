// Text from control messages, PID files and file names reaches the operator's terminal through
// `status`. Control characters in it could drive the terminal (escape sequences: retitle the
// window, rewrite what was printed, answer-back), so they are shown escaped, as systemd does:
// C0 and C1 controls and DEL as `\xNN`, and the bidirectional overrides that reorder text on
// screen as `\u{NNNN}`.

// C0 (U+0000–U+001F), DEL, C1 (U+0080–U+009F); bidi embeddings/overrides/isolates and marks.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

// What JSON.stringify leaves raw of the above (its own line breaks are layout, not content).
const LEFT_RAW_BY_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function escape(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** `text` with every character that could steer a terminal written as an escape. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escape);
}

/**
 * JSON text safe for a terminal: JSON.stringify escapes C0 controls but leaves DEL, C1 and the
 * bidi controls raw; they are written as `\uNNNN` (the same JSON value).
 */
export function terminalSafeJson(json: string): string {
  return json.replace(LEFT_RAW_BY_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
