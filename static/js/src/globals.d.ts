// What the pages' modules add to the browser's globals, and the stylesheets
// they import for esbuild to bundle.

declare module "*.css";

interface Window {
  /** The page's terminal, read by the browser tests. */
  ideTerminal?: { text: () => string; term: import("@xterm/xterm").Terminal };
  /** The page's editor, read by the browser tests. */
  ideEditor?: { view: import("@codemirror/view").EditorView };
}
