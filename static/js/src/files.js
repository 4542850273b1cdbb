/**
 * The Files page (files/directory.html): new file and directory, uploads
 * (picker or drag and drop, with progress), rename, and local times.
 * Deleting is app.js's `button[data-api-delete]`; the listing itself is
 * rendered by the server, so the page is usable before this runs.
 *
 * Settings come from `#files-page`: `data-owner`, `data-api-base`,
 * `data-path` (the directory, ending in "/"), `data-upload-limit` (bytes).
 */
import { EntryActions } from "./files/entry_actions.js";
import { Uploader } from "./files/upload.js";
import { localiseTimes } from "./lib/format.js";
import { showError, showNotice } from "./lib/notice.js";
import { closestToTarget, formControl, requireElement, submitterOf } from "./lib/dom.js";
import "../../css/files.css";

/**
 * @param {HTMLElement} page `#files-page`
 * @returns {{owner: string, apiBase: string, directory: string, limitBytes: number}}
 */
function readConfig(page) {
  const { owner, apiBase, path, uploadLimit } = page.dataset;
  if (!owner || !apiBase || !path || !uploadLimit) {
    throw new Error("#files-page needs data-owner, data-api-base, data-path and data-upload-limit.");
  }
  return { owner, apiBase, directory: path.endsWith("/") ? path : `${path}/`, limitBytes: Number(uploadLimit) };
}

/**
 * Run an action from a button, keeping it disabled meanwhile and showing failures.
 * @param {HTMLButtonElement | HTMLInputElement | null} button
 * @param {() => Promise<unknown>} action
 */
async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    await action();
  } catch (error) {
    showError(error);
  } finally {
    if (button) button.disabled = false;
  }
}

/**
 * @param {HTMLFormElement} form
 * @param {EntryActions} actions
 */
function wireNewEntryForm(form, actions) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = formControl(form, "name").value;
    const submitter = submitterOf(event);
    const kind = submitter?.value || "file";
    busy(submitter, () => (kind === "directory" ? actions.newDirectory(typed) : actions.newFile(typed)));
  });
}

/**
 * @param {HTMLElement} page
 * @param {EntryActions} actions
 */
function wireRenameButtons(page, actions) {
  page.addEventListener("click", (event) => {
    const button = closestToTarget(event, "button[data-rename]", HTMLButtonElement);
    if (button) busy(button, () => actions.rename(button.dataset.rename || ""));
  });
}

/**
 * The file picker and dropping files anywhere on the listing.
 * @param {HTMLElement} page
 * @param {Uploader} uploader
 */
function wireUploads(page, uploader) {
  const input = requireElement(page, "input[data-upload-input]", HTMLInputElement);
  input.addEventListener("change", () => {
    const files = Array.from(input.files || []);
    input.value = "";
    uploader.upload(files).catch(showError);
  });
  const dropZone = requireElement(page, "[data-drop-zone]", HTMLElement);
  /** @param {DragEvent} event */
  const carriesFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  dropZone.addEventListener("dragover", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dropZone.classList.add("drop-target");
  });
  dropZone.addEventListener("dragleave", (event) => {
    const entered = event.relatedTarget instanceof Node ? event.relatedTarget : null;
    if (!dropZone.contains(entered)) dropZone.classList.remove("drop-target");
  });
  dropZone.addEventListener("drop", (event) => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dropZone.classList.remove("drop-target");
    uploader.upload(Array.from(event.dataTransfer?.files || [])).catch(showError);
  });
}

function main() {
  const page = document.getElementById("files-page");
  if (!page) return;
  const config = readConfig(page);
  const actions = new EntryActions({ owner: config.owner, apiBase: config.apiBase, directory: config.directory });
  wireNewEntryForm(requireElement(page, "form[data-new-entry]", HTMLFormElement), actions);
  wireRenameButtons(page, actions);

  const refresh = requireElement(page, "button[data-upload-refresh]", HTMLButtonElement);
  refresh.addEventListener("click", () => window.location.reload());
  const uploader = new Uploader({
    list: requireElement(page, "[data-upload-list]", HTMLElement),
    apiBase: config.apiBase,
    directory: config.directory,
    limitBytes: config.limitBytes,
    existingNames: () => actions.existingNames(),
    onFinished: (uploaded, failed) => {
      if (failed === 0) {
        window.location.reload();
        return;
      }
      showNotice(`${uploaded} uploaded, ${failed} not: see the messages above the list.`, { level: "info" });
      refresh.hidden = uploaded === 0;
    },
  });
  wireUploads(page, uploader);
  localiseTimes(page);
}

main();
