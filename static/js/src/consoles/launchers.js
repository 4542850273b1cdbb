/**
 * The launcher editor of the consoles page: saved commands
 * (`{"id", "name", "command", "working_directory"}`) that get their own
 * start button. The page is reloaded after a change so the start buttons,
 * rendered by the server, show it.
 */
/** @typedef {{id: string | number, name?: string, command?: string, working_directory?: string}} Launcher */
import { apiFetch } from "../lib/api.js";
import { showError } from "../lib/notice.js";
import { closestToTarget, formControl, requireElement, submitterOf } from "../lib/dom.js";

export class LauncherEditor {
  /**
   * @param {HTMLElement} section the element holding `form[data-launcher-form]`
   *   and the launchers' `button[data-launcher-edit]` / `button[data-launcher-delete]`.
   * @param {string} apiBase `/api/v0/user/<u>/`
   */
  constructor(section, apiBase) {
    this._api = `${apiBase}launchers/`;
    this._form = requireElement(section, "form[data-launcher-form]", HTMLFormElement);
    this._heading = requireElement(section, "[data-launcher-form-heading]", HTMLElement);
    this._cancel = requireElement(this._form, "button[data-launcher-cancel]", HTMLButtonElement);
    this._form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._save(submitterOf(event));
    });
    this._cancel.addEventListener("click", () => this._editNew());
    section.addEventListener("click", (event) => {
      const edit = closestToTarget(event, "button[data-launcher-edit]", HTMLButtonElement);
      if (edit) this._edit(edit.dataset.launcherEdit || "", edit);
      const remove = closestToTarget(event, "button[data-launcher-delete]", HTMLButtonElement);
      if (remove) this._delete(remove.dataset.launcherDelete || "", remove);
    });
  }

  /**
   * Fill the form with a saved launcher, fetched fresh from the server.
   * @param {string} id
   * @param {HTMLButtonElement} button the launcher's edit button.
   */
  async _edit(id, button) {
    button.disabled = true;
    try {
      /** @type {Launcher[]} */
      const launchers = await apiFetch("GET", this._api);
      const launcher = launchers.find((candidate) => String(candidate.id) === id);
      if (!launcher) throw new Error("This launcher no longer exists: reload the page.");
      this._field("id").value = String(launcher.id);
      this._field("name").value = launcher.name || "";
      this._field("command").value = launcher.command || "";
      this._field("working_directory").value = launcher.working_directory || "";
      this._heading.textContent = `Edit launcher “${launcher.name}”`;
      this._cancel.hidden = false;
      this._field("name").focus();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  }

  _editNew() {
    this._form.reset();
    this._field("id").value = "";
    this._heading.textContent = "New launcher";
    this._cancel.hidden = true;
  }

  /**
   * @param {string} name
   * @returns {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement}
   */
  _field(name) {
    return formControl(this._form, name);
  }

  /** @param {HTMLButtonElement | HTMLInputElement | null} submitter */
  async _save(submitter) {
    const id = this._field("id").value;
    const launcher = {
      name: this._field("name").value.trim(),
      command: this._field("command").value.trim(),
      working_directory: this._field("working_directory").value.trim(),
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

  /**
   * @param {string} id
   * @param {HTMLButtonElement} button the launcher's delete button.
   */
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
