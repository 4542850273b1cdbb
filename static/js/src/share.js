/**
 * A shared file's page (files/share.html): the code, read-only and
 * highlighted by CodeMirror in place of the plain `<pre>` the server sends
 * (which stays for browsers without JavaScript).
 *
 * Settings: `<script type="application/json" id="share-config">` with
 * `content` and `language`. Tests read the text through `window.ideEditor.view`.
 */
import { EditorView } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { readOnlyExtensions } from "./editor/setup.js";
import "../../css/share.css";

function main() {
  const configElement = document.getElementById("share-config");
  const host = document.getElementById("shared-code");
  if (!configElement || !host) return;
  const { content, language } = JSON.parse(configElement.textContent);
  if (typeof content !== "string") return;
  const view = new EditorView({
    state: EditorState.create({ doc: content, extensions: readOnlyExtensions(language) }),
  });
  host.replaceChildren(view.dom);
  window.ideEditor = { view };
}

main();
