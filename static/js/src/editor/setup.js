/**
 * The CodeMirror 6 set-up shared by the editor and the read-only share page:
 * highlighting, line numbers, search, bracket matching, and Python's
 * four-space indentation.
 */
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { indentUnit } from "@codemirror/language";
import { indentWithTab } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";

/** PEP 8's indentation; also what Python's own tools and tutorials use. */
const INDENT = "    ";

/**
 * The language support for a file, from the server's `language` ("python" or "text").
 * @param {string} language
 */
export function languageSupport(language) {
  return language === "python" ? python() : [];
}

/**
 * Everything an editable buffer needs besides saving and linting.
 *
 * Tab indents (as people expect in a code editor); Escape then Tab still
 * moves the focus out, CodeMirror's escape hatch for keyboard users.
 * @param {string} language
 */
export function editingExtensions(language) {
  return [
    basicSetup,
    languageSupport(language),
    indentUnit.of(INDENT),
    EditorState.tabSize.of(INDENT.length),
    keymap.of([indentWithTab]),
    EditorView.lineWrapping,
    EditorView.contentAttributes.of({ autocapitalize: "off", autocorrect: "off", spellcheck: "false" }),
  ];
}

/**
 * A highlighted, searchable, selectable but unchangeable view of some code.
 * @param {string} language
 */
export function readOnlyExtensions(language) {
  return [basicSetup, languageSupport(language), EditorState.tabSize.of(INDENT.length), EditorState.readOnly.of(true)];
}
