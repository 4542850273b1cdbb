/**
 * Client-side flow control for terminal output.
 *
 * xterm.js parses some 5–35 MB/s; a program such as `yes` produces more than
 * that, and everything handed to `term.write` waits in memory until parsed.
 * Left alone the page grows, stutters, and Ctrl-C seems to do nothing because
 * its effect sits behind megabytes of queued output. So we count what is
 * written but not yet parsed and ask the server to `pause` above a high
 * watermark and to `resume` below a low one.
 */

/** Characters queued in xterm.js above which the server is asked to pause. */
export const HIGH_WATERMARK = 100_000;
/** Characters queued below which a paused server is asked to resume. */
export const LOW_WATERMARK = 10_000;

/** One connection's output budget: a new connection gets a new one. */
export class OutputFlow {
  /**
   * @param {(text: string, parsed: () => void) => void} write hands text to
   *   the terminal and calls `parsed` once it has been processed.
   * @param {(message: unknown[]) => void} send sends a protocol message.
   * @param {{high?: number, low?: number}} [watermarks]
   */
  constructor(write, send, { high = HIGH_WATERMARK, low = LOW_WATERMARK } = {}) {
    if (!(low < high)) throw new Error(`The low watermark (${low}) must be below the high one (${high}).`);
    this._write = write;
    this._send = send;
    this._high = high;
    this._low = low;
    this.pending = 0;
    this.paused = false;
  }

  /**
   * Write output to the terminal, pausing the server if the terminal falls behind.
   * @param {string} text
   */
  push(text) {
    const size = text.length;
    this.pending += size;
    this._write(text, () => this._parsed(size));
    if (!this.paused && this.pending > this._high) {
      this.paused = true;
      this._send(["pause"]);
    }
  }

  /** @param {number} size characters the terminal has now processed. */
  _parsed(size) {
    this.pending -= size;
    if (this.paused && this.pending < this._low) {
      this.paused = false;
      this._send(["resume"]);
    }
  }
}
