/**
 * The launcher editor of the consoles page: saved commands
 * (`{"id", "name", "command", "working_directory"}`) that get their own
 * start button. The page is reloaded after a change so the start buttons,
 * rendered by the server, show it.
 */
import { apiFetch } from "../lib/api.js";
import { showError } from "../lib/notice.js";

export class LauncherEditor {
  /**
   * @param {HTMLElement} section the element holding `form[data-launcher-form]`
   *   and the launchers' `button[data-launcher-edit]` / `button[data-launcher-delete]`.
   * @param {string} apiBase `/api/v0/user/<u>/`
   */
  constructor(section, apiBase) {
    this._api = `${apiBase}launchers/`;
    this._form = section.querySelector("form[data-launcher-form]");
    this._heading = section.querySelector("[data-launcher-form-heading]");
    this._cancel = this._form.querySelector("button[data-launcher-cancel]");
    this._form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._save(event.submitter);
    });
    this._cancel.addEventListener("click", () => this._editNew());
    section.addEventListener("click", (event) => {
      const edit = event.target.closest("button[data-launcher-edit]");
      if (edit) this._edit(edit.dataset.launcherEdit, edit);
      const remove = event.target.closest("button[data-launcher-delete]");
      if (remove) this._delete(remove.dataset.launcherDelete, remove);
    });
  }

  /** Fill the form with a saved launcher, fetched fresh from the server. */
  async _edit(id, button) {
    button.disabled = true;
    try {
      const launchers = await apiFetch("GET", this._api);
      const launcher = launchers.find((candidate) => String(candidate.id) === id);
      if (!launcher) throw new Error("This launcher no longer exists: reload the page.");
      const fields = this._form.elements;
      fields.id.value = launcher.id;
      fields.name.value = launcher.name || "";
      fields.command.value = launcher.command || "";
      fields.working_directory.value = launcher.working_directory || "";
      this._heading.textContent = `Edit launcher “${launcher.name}”`;
      this._cancel.hidden = false;
      fields.name.focus();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  }

  _editNew() {
    this._form.reset();
    this._form.elements.id.value = "";
    this._heading.textContent = "New launcher";
    this._cancel.hidden = true;
  }

  async _save(submitter) {
    const fields = this._form.elements;
    const id = fields.id.value;
    const launcher = {
      name: fields.name.value.trim(),
      command: fields.command.value.trim(),
      working_directory: fields.working_directory.value.trim(),
    };
    if (submitter) submitter.disabled = true;
    try {
      if (id) {
        await apiFetch("PUT", `${this._api}${encodeURIComponent(id)}/`, launcher);
      } else {
        await apiFetch("POST", this._api, launcher);
      }
      window.location.reload();
    } catch (error) {
      showError(error);
      if (submitter) submitter.disabled = false;
    }
  }

  async _delete(id, button) {
    const name = button.dataset.launcherName || "this launcher";
    if (!window.confirm(`Delete ${name}?`)) return;
    button.disabled = true;
    try {
      await apiFetch("DELETE", `${this._api}${encodeURIComponent(id)}/`);
      window.location.reload();
    } catch (error) {
      showError(error);
      button.disabled = false;
    }
  }
}
