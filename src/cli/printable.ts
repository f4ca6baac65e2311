// Text from agents' reports (node ids, host names, worker ids, versions), which anyone with Send
// on the reports queue can write, as the terminal may show it: with its control characters made
// visible, so a report cannot move the cursor, clear the screen, retitle the terminal, plant a
// link or reverse a line.

/** C0 and C1 control characters, DEL, and the bidi controls that reorder what a line shows. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Untrusted text as one inert line: every control character as a visible \u escape. */
export function printable(text: string | undefined): string {
  return (text ?? '').replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
