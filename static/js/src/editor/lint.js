/**
 * Python linting in the editor: pyflakes runs on the server (`lint/` API);
 * its messages become CodeMirror diagnostics, shown as gutter markers and
 * underlines.
 */
import { linter, lintGutter } from "@codemirror/lint";
import { apiFetch } from "../lib/api.js";
import { errorMessage } from "../lib/notice.js";

/** Quiet time after typing before the code is sent, so not every keystroke costs a request. */
export const LINT_DELAY_MS = 400;

const SEVERITIES = new Set(["error", "warning", "info", "hint"]);

/**
 * @param {unknown} value
 * @returns {value is import("@codemirror/lint").Diagnostic["severity"]}
 */
function isSeverity(value) {
  return typeof value === "string" && SEVERITIES.has(value);
}

/**
 * @param {unknown} value
 * @param {number} fallback
 * @returns {number} `value` when it is an integer, else `fallback`.
 */
function integerOr(value, fallback) {
  return typeof value === "number" && Number.isInteger(value) ? value : fallback;
}

/**
 * @param {number} value
 * @param {number} low
 * @param {number} high
 */
function clamp(value, low, high) {
  return Math.min(Math.max(value, low), high);
}

/**
 * The UTF-16 offset (what JavaScript strings count) of a column that Python
 * counted in code points: the two differ after characters outside the BMP.
 * @param {string} text
 * @param {number} codePoints
 */
function utf16Offset(text, codePoints) {
  let offset = 0;
  let seen = 0;
  for (const character of text) {
    if (seen >= codePoints) break;
    offset += character.length;
    seen += 1;
  }
  return offset;
}

/**
 * Where `word` occurs as a whole identifier in `text`, preferring at or after `start`; -1 if nowhere.
 * @param {string} text
 * @param {string} word
 * @param {number} start
 * @returns {number}
 */
function identifierIndex(text, word, start) {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, "gu");
  let fallback = -1;
  for (const match of text.matchAll(pattern)) {
    if (match.index >= start) return match.index;
    if (fallback < 0) fallback = match.index;
  }
  return fallback;
}

/**
 * The span of a line to underline for a message at `column`: the name the
 * message quotes ("'os' imported but unused"), else the word at the column,
 * else one character (the last one when the column is at the line's end).
 * Offsets are relative to the line's start.
 * @param {string} text the line.
 * @param {number} column
 * @param {string} message
 * @returns {[number, number]}
 */
function spanFor(text, column, message) {
  const quoted = /'([^'\s]+)'/u.exec(message);
  if (quoted) {
    const at = identifierIndex(text, quoted[1], column);
    if (at >= 0) return [at, at + quoted[1].length];
  }
  const word = /^[\p{L}\p{N}_.]+/u.exec(text.slice(column));
  if (word) return [column, column + word[0].length];
  if (column < text.length) return [column, column + 1];
  return text.length > 0 ? [text.length - 1, text.length] : [0, 0];
}

/**
 * One lint result (`{line, col, message, severity}`, line 1-based, column
 * 0-based in code points) as a diagnostic of `doc`, with the position
 * clamped into the document whatever the server said.
 *
 * @param {import("@codemirror/state").Text} doc
 * @param {{line: unknown, col: unknown, message: unknown, severity: unknown}} result
 * @returns {import("@codemirror/lint").Diagnostic}
 */
export function diagnosticFor(doc, { line, col, message, severity }) {
  const lineNumber = clamp(integerOr(line, 1), 1, doc.lines);
  const docLine = doc.line(lineNumber);
  const column = clamp(utf16Offset(docLine.text, Math.max(integerOr(col, 0), 0)), 0, docLine.length);
  const text = String(message ?? "");
  const [from, to] = spanFor(docLine.text, column, text);
  return {
    from: docLine.from + from,
    to: docLine.from + to,
    severity: isSeverity(severity) ? severity : "info",
    message: text,
    source: "pyflakes",
  };
}

/**
 * Lint support for Python code.
 *
 * @param {string} lintUrl the `lint/` API endpoint.
 * @param {(problem: string | null) => void} onProblem told why linting is not
 *   working (too large, server unreachable), and `null` once it works again.
 */
export function pythonLinting(lintUrl, onProblem) {
  /**
   * @param {import("@codemirror/view").EditorView} view
   * @returns {Promise<import("@codemirror/lint").Diagnostic[]>}
   */
  async function lintSource(view) {
    const doc = view.state.doc;
    let results;
    try {
      results = await apiFetch("POST", lintUrl, { code: doc.toString() });
      onProblem(null);
    } catch (error) {
      onProblem(`Checking the code failed: ${errorMessage(error)}`);
      return [];
    }
    // An answer for text that has changed since is stale: its positions no
    // longer fit, and the change has already scheduled a check of the new text.
    if (view.state.doc !== doc || !Array.isArray(results)) return [];
    return results.map((result) => diagnosticFor(doc, result ?? {}));
  }
  return [linter(lintSource, { delay: LINT_DELAY_MS }), lintGutter()];
}
