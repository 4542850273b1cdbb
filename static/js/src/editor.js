/**
 * The editor page (files/editor.html): CodeMirror 6 with Python
 * highlighting and linting, saving with conflict detection, Save & Run in a
 * console pane, and sharing by link.
 *
 * Settings come from `<script type="application/json" id="editor-config">`
 * (the file's text, its ETag, API URLs, the `run` request). Browser tests
 * read the document through `window.ideEditor.view` and the run pane's
 * screen through `window.ideTerminal.text()`.
 */
import { EditorView, keymap } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { openSearchPanel } from "@codemirror/search";
import { editingExtensions } from "./editor/setup.js";
import { pythonLinting } from "./editor/lint.js";
import { FileSaver } from "./editor/saver.js";
import { RunPane, interpreterLabel } from "./editor/run_pane.js";
import { SharePanel } from "./editor/share_panel.js";
import { wireWebappReload } from "./editor/webapp_reload.js";
import { showError } from "./lib/notice.js";
import { requireElement, requireId } from "./lib/dom.js";
import { followVisualViewport } from "./lib/viewport.js";
import "../../css/console.css";
import "../../css/editor.css";

const UNSAVED_PREFIX = "● ";
/** How long a success or progress message stays under the toolbar; errors stay. */
const STATUS_LIFETIME_MS = 8000;

/**
 * The editor's settings, as the page's template writes them.
 * @typedef {{
 *   content: string,
 *   etag: string | null,
 *   lossy: boolean,
 *   file_api_url: string,
 *   api_base: string,
 *   lint_url?: string,
 *   path: string,
 *   language: string,
 *   run: {executable: string, arguments: string[], working_directory: string},
 *   webapp?: import("./editor/webapp_reload.js").EditorWebapp | null,
 * }} EditorConfig
 */

/**
 * What the editor's keys and its change listener do, filled in once the
 * parts they act on exist.
 * @typedef {{save: () => void, run: (() => void) | null, changed: () => void}} EditorActions
 */

/** @typedef {(text: string, level: "info" | "success" | "error") => void} ShowStatus */

/**
 * The page's settings, checked so a broken template fails clearly.
 * @returns {EditorConfig | null}
 */
function readConfig() {
  const element = document.getElementById("editor-config");
  if (!element) return null;
  const config = JSON.parse(element.textContent || "");
  for (const key of ["content", "file_api_url", "api_base", "path", "language", "run"]) {
    if (!(key in config)) throw new Error(`The editor's settings lack "${key}".`);
  }
  return config;
}

/** Let the editor fill the window below the site's header, and the visible area on a phone. */
function fillWindow() {
  document.body.classList.add("editor-fill");
  followVisualViewport();
}

/**
 * The line under the toolbar that says what happened last.
 * @param {HTMLElement} element
 * @returns {ShowStatus}
 */
function statusLine(element) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  return (text, level) => {
    clearTimeout(timer);
    element.textContent = text;
    element.dataset.level = level;
    if (level === "success" || level === "info") {
      timer = setTimeout(() => {
        element.textContent = "";
        delete element.dataset.level;
      }, STATUS_LIFETIME_MS);
    }
  };
}

/**
 * Offer the conflict bar: the file changed on disk since it was loaded.
 * @param {HTMLElement} bar
 * @param {string} detail
 */
function showConflict(bar, detail) {
  requireElement(bar, "[data-conflict-detail]", HTMLElement).textContent = detail;
  bar.hidden = false;
}

/**
 * The conflict bar's choices: take the disk's version, or write ours over it.
 * @param {HTMLElement} bar
 * @param {FileSaver} saver
 */
function wireConflictBar(bar, saver) {
  const hide = () => (bar.hidden = true);
  requireElement(bar, "button[data-conflict-reload]", HTMLButtonElement).addEventListener("click", () => {
    hide();
    saver.reload();
  });
  requireElement(bar, "button[data-conflict-overwrite]", HTMLButtonElement).addEventListener("click", () => {
    hide();
    saver.save({ overwrite: true });
  });
  requireElement(bar, "button[data-conflict-dismiss]", HTMLButtonElement).addEventListener("click", hide);
}

/**
 * The CodeMirror view. `actions` are looked up when a key is pressed, so
 * they may be filled in after the view exists.
 * @param {HTMLElement} host
 * @param {EditorConfig} config
 * @param {EditorActions} actions
 * @param {ShowStatus} showStatus
 * @returns {EditorView}
 */
function createView(host, config, actions, showStatus) {
  const commands = Prec.highest(
    keymap.of([
      {
        key: "Mod-s",
        run: () => {
          actions.save();
          return true;
        },
      },
      {
        key: "Mod-Enter",
        // Without a run (not Python), Ctrl-Enter keeps its editing meaning.
        run: () => {
          if (!actions.run) return false;
          actions.run();
          return true;
        },
      },
    ]),
  );
  const linting =
    config.language === "python" && config.lint_url
      ? pythonLinting(config.lint_url, (problem) => problem && showStatus(problem, "error"))
      : [];
  return new EditorView({
    parent: host,
    state: EditorState.create({
      doc: config.content,
      extensions: [
        commands,
        editingExtensions(config.language),
        linting,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) actions.changed();
        }),
      ],
    }),
  });
}

/**
 * Save & Run: the button, the interpreter's name beside it, and the pane.
 * @param {EditorConfig} config
 * @param {FileSaver} saver
 * @returns {(() => Promise<void>) | null} the action, or null on a page without a run button.
 */
function wireRun(config, saver) {
  const button = document.getElementById("run-button");
  if (!(button instanceof HTMLButtonElement)) return null;
  const pane = new RunPane(requireId("run-pane", HTMLElement), {
    apiBase: config.api_base,
    run: config.run,
    storageKey: `ide-run-console:${config.path}`,
  });
  const interpreter = requireId("interpreter", HTMLElement);
  interpreter.textContent = interpreterLabel(config.run.executable);
  interpreter.title = `Runs ${[config.run.executable, ...config.run.arguments].join(" ")}`;
  const saveAndRun = async () => {
    if (button.disabled) return;
    button.disabled = true;
    try {
      if (await saver.save({ quiet: true })) await pane.start();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener("click", saveAndRun);
  return saveAndRun;
}

/**
 * The editor's keys also work while the focus is on the toolbar; a terminal keeps its own Ctrl-S.
 * @param {EditorActions} actions
 */
function wirePageKeys(actions) {
  window.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || !(event.ctrlKey || event.metaKey) || event.altKey) return;
    if (event.target instanceof Element && event.target.closest(".xterm")) return;
    if (event.key.toLowerCase() === "s") {
      event.preventDefault();
      actions.save();
    } else if (event.key === "Enter" && actions.run) {
      event.preventDefault();
      actions.run();
    }
  });
}

/**
 * Mark unsaved changes in the toolbar and the tab's title, and ask before leaving with them.
 * @param {HTMLElement} marker
 * @returns {(dirty: boolean) => void}
 */
function trackUnsaved(marker) {
  const baseTitle = document.title;
  let unsaved = false;
  window.addEventListener("beforeunload", (event) => {
    if (!unsaved) return;
    event.preventDefault();
    event.returnValue = "";
  });
  return (dirty) => {
    unsaved = dirty;
    marker.hidden = !dirty;
    document.title = dirty ? UNSAVED_PREFIX + baseTitle : baseTitle;
  };
}

function main() {
  const config = readConfig();
  const host = document.getElementById("editor");
  if (!config || !host) return;
  fillWindow();

  const showStatus = statusLine(requireId("editor-status", HTMLElement));
  /** @type {EditorActions} */
  const actions = { save: () => {}, run: null, changed: () => {} };
  const view = createView(host, config, actions, showStatus);
  window.ideEditor = { view };

  const conflict = requireId("conflict-bar", HTMLElement);
  const saver = new FileSaver(view, {
    url: config.file_api_url,
    etag: config.etag || null,
    lossy: Boolean(config.lossy),
    onDirty: trackUnsaved(requireId("unsaved-marker", HTMLElement)),
    onStatus: showStatus,
    onConflict: (detail) => showConflict(conflict, detail),
  });
  wireConflictBar(conflict, saver);
  actions.save = () => saver.save();
  actions.changed = () => saver.documentChanged();
  actions.run = wireRun(config, saver);
  wirePageKeys(actions);

  requireId("save-button", HTMLButtonElement).addEventListener("click", actions.save);
  requireId("find-button", HTMLButtonElement).addEventListener("click", () => openSearchPanel(view));
  const sharePanel = document.getElementById("share-panel");
  if (sharePanel) new SharePanel(sharePanel, requireId("share-button", HTMLButtonElement));
  if (config.webapp) {
    wireWebappReload(
      requireId("webapp-reload-button", HTMLButtonElement),
      requireId("webapp-reload-result", HTMLElement),
      config.webapp,
      () => saver.save({ quiet: true }),
      showStatus,
    );
  }
  view.focus();
}

main();
