/**
 * The owner's share controls on a console page: who may watch or type, and
 * the broadcast to all of a teacher's students. Everything goes through the
 * console's `sharing/` API, so the list shown is always the server's.
 *
 * The page gives the panel `data-sharing-api` (the console's `sharing/`
 * URL) and `data-students-api` (the owner's `students/` URL: the class
 * controls are shown only to someone who has students).
 */
import { apiFetch } from "../lib/api.js";
import { errorMessage, showError, showNotice } from "../lib/notice.js";
import { formControl, requireElement, submitterOf } from "../lib/dom.js";
import "../../../css/console-sharing.css";

/** @type {Record<string, string>} */
const MODE_LABELS = { ro: "read-only", rw: "can type" };

/** @typedef {{username: string, mode: string}} Share one person's access, as the API lists it. */

export class SharingPanel {
  /**
   * @param {HTMLElement} panel the element with `data-sharing-api`.
   */
  constructor(panel) {
    const api = panel.dataset.sharingApi;
    if (!api) throw new Error("The sharing panel needs data-sharing-api.");
    this._api = api;
    this._studentsApi = panel.dataset.studentsApi;
    this._list = requireElement(panel, "[data-share-list]", HTMLElement);
    this._form = requireElement(panel, "form[data-share-form]", HTMLFormElement);
    this._students = requireElement(panel, "[data-share-class]", HTMLElement);
    this._studentsButton = requireElement(panel, "button[data-share-students]", HTMLButtonElement);
    this._studentsState = requireElement(panel, "[data-share-class-state]", HTMLElement);
    this._allStudents = false;
    this._form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._share(submitterOf(event));
    });
    this._studentsButton.addEventListener("click", () => this._toggleStudents());
  }

  /** Fetch the current shares (and whether the owner has a class) and show them. */
  async load() {
    try {
      const [sharing, students] = await Promise.all([
        apiFetch("GET", this._api),
        this._studentsApi ? apiFetch("GET", this._studentsApi) : { students: [] },
      ]);
      const teacher = (students.students || []).length > 0;
      this._render(sharing.shares || [], Boolean(sharing.all_students), teacher);
    } catch (error) {
      this._list.replaceChildren(this._emptyItem(`Could not load the shares: ${errorMessage(error)}`));
    }
  }

  /**
   * @param {Share[]} shares
   * @param {boolean} allStudents whether the console is shared with the whole class.
   * @param {boolean} teacher whether the owner has students.
   */
  _render(shares, allStudents, teacher) {
    this._allStudents = allStudents;
    // A broadcast stays visible (and can be ended) even if the class has emptied since.
    this._students.hidden = !teacher && !allStudents;
    this._studentsButton.textContent = allStudents
      ? "Stop sharing with my students"
      : "Share with all my students (read-only)";
    this._studentsButton.setAttribute("aria-pressed", String(allStudents));
    this._studentsState.textContent = allStudents
      ? "Shared with your class: every student of yours can watch."
      : "For teachers: every student of yours can watch, read-only.";
    if (shares.length === 0) {
      this._list.replaceChildren(this._emptyItem("Not shared with anyone by name."));
      return;
    }
    this._list.replaceChildren(...shares.map((share) => this._shareItem(share)));
  }

  /** @param {string} text */
  _emptyItem(text) {
    const item = document.createElement("li");
    item.className = "share-empty";
    item.textContent = text;
    return item;
  }

  /** @param {Share} share */
  _shareItem({ username, mode }) {
    const item = document.createElement("li");
    item.className = "share-item";
    item.dataset.username = username;

    const name = document.createElement("span");
    name.className = "share-username";
    name.textContent = username;

    const select = document.createElement("select");
    select.setAttribute("aria-label", `Access for ${username}`);
    for (const [value, label] of Object.entries(MODE_LABELS)) {
      select.append(new Option(label, value, false, value === mode));
    }
    select.addEventListener("change", () => this._changeMode(username, select));

    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small danger";
    remove.textContent = "Stop sharing";
    remove.setAttribute("aria-label", `Stop sharing with ${username}`);
    remove.addEventListener("click", () => this._unshare(username, remove));

    item.append(name, select, remove);
    return item;
  }

  /** @param {HTMLButtonElement | HTMLInputElement | null} submitter */
  async _share(submitter) {
    const username = formControl(this._form, "username").value.trim();
    const mode = formControl(this._form, "mode").value;
    if (!username) return;
    if (submitter) submitter.disabled = true;
    try {
      const share = await apiFetch("POST", this._api, { username, mode });
      this._form.reset();
      showNotice(`Shared with ${share.username} (${MODE_LABELS[share.mode]}).`, { level: "success" });
      await this.load();
    } catch (error) {
      showError(error);
    } finally {
      if (submitter) submitter.disabled = false;
    }
  }

  /**
   * @param {string} username
   * @param {HTMLSelectElement} select the person's access, just changed.
   */
  async _changeMode(username, select) {
    select.disabled = true;
    try {
      await apiFetch("POST", this._api, { username, mode: select.value });
      showNotice(`${username} now has ${MODE_LABELS[select.value]} access.`, { level: "success" });
    } catch (error) {
      showError(error);
      await this.load();
    } finally {
      select.disabled = false;
    }
  }

  /**
   * @param {string} username
   * @param {HTMLButtonElement} button
   */
  async _unshare(username, button) {
    if (!window.confirm(`Stop sharing this console with ${username}? Their open pages are disconnected.`)) return;
    button.disabled = true;
    try {
      await apiFetch("DELETE", `${this._api}${encodeURIComponent(username)}/`);
      showNotice(`No longer shared with ${username}.`, { level: "success" });
      await this.load();
    } catch (error) {
      showError(error);
      button.disabled = false;
    }
  }

  async _toggleStudents() {
    this._studentsButton.disabled = true;
    try {
      if (this._allStudents) {
        await apiFetch("DELETE", `${this._api}all_students/`);
        showNotice("No longer shared with your students.", { level: "success" });
      } else {
        await apiFetch("POST", this._api, { all_students: true });
        showNotice("Shared with all your students, read-only.", { level: "success" });
      }
      await this.load();
    } catch (error) {
      showError(error);
    } finally {
      this._studentsButton.disabled = false;
    }
  }
}
