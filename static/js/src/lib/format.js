/**
 * Sizes and times as people read them, matching what the server renders
 * (Jinja's `filesizeformat(true)`: binary units, one decimal).
 */

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * @param {number} bytes
 * @returns {string} such as "512 Bytes" or "1.5 MiB".
 */
export function humanSize(bytes) {
  if (bytes === 1) return "1 Byte";
  if (bytes < 1024) return `${bytes} Bytes`;
  let value = bytes;
  let unit = "";
  for (const next of UNITS) {
    value /= 1024;
    unit = next;
    if (value < 1024) break;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/**
 * Show `<time datetime="…">` elements in the reader's own time zone and locale.
 * @param {ParentNode} root
 */
export function localiseTimes(root) {
  for (const time of root.querySelectorAll("time[datetime]")) {
    if (!(time instanceof HTMLTimeElement)) continue;
    const date = new Date(time.dateTime);
    if (Number.isNaN(date.getTime())) continue;
    time.title = time.dateTime;
    time.textContent = date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
}
