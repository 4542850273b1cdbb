/**
 * The process list of the consoles page, refreshed every few seconds, with
 * a kill button per process.
 *
 * Refreshes pause while the tab is hidden (no point polling for nobody) and
 * never overlap: the next one is scheduled when the last has finished.
 */
import { apiFetch } from "../lib/api.js";
import { errorMessage, showError } from "../lib/notice.js";
import { closestToTarget, requireElement } from "../lib/dom.js";

const REFRESH_MS = 3000;

/**
 * A process as the API lists it.
 * @typedef {{pid: number, command: string, cpu_seconds: number, memory_bytes: number, node?: string}} Process
 */

/**
 * Memory the way people read it.
 * @param {number} bytes
 * @returns {string}
 */
export function formatMemory(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}

/**
 * @param {string} text
 * @param {string} [className]
 * @returns {HTMLTableCellElement}
 */
function cell(text, className) {
  const element = document.createElement("td");
  element.textContent = text;
  if (className) element.className = className;
  return element;
}

export class ProcessList {
  /**
   * @param {HTMLElement} section holds a `tbody[data-process-rows]` and a
   *   `[data-process-error]` element.
   * @param {string} apiBase `/api/v0/user/<u>/`
   */
  constructor(section, apiBase) {
    this._api = `${apiBase}processes/`;
    this._rows = requireElement(section, "tbody[data-process-rows]", HTMLTableSectionElement);
    this._error = requireElement(section, "[data-process-error]", HTMLElement);
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this._timer = undefined;
    this._loading = false;
    section.addEventListener("click", (event) => {
      const button = closestToTarget(event, "button[data-kill]", HTMLButtonElement);
      if (button) this._kill(button);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh();
    });
  }

  /** Fetch the list now, then keep refreshing it. */
  async refresh() {
    clearTimeout(this._timer);
    this._timer = undefined;
    if (this._loading) return;
    this._loading = true;
    try {
      this._render(await apiFetch("GET", this._api));
      this._error.hidden = true;
    } catch (error) {
      this._error.textContent = `Could not list your processes: ${errorMessage(error)}`;
      this._error.hidden = false;
    } finally {
      this._loading = false;
      if (!document.hidden) this._timer = setTimeout(() => this.refresh(), REFRESH_MS);
    }
  }

  /** @param {Process[]} processes */
  _render(processes) {
    if (!processes.length) {
      const row = document.createElement("tr");
      const empty = cell("No processes running.", "muted");
      empty.colSpan = 5;
      row.append(empty);
      this._rows.replaceChildren(row);
      return;
    }
    this._rows.replaceChildren(...processes.map((process) => this._row(process)));
  }

  /** @param {Process} process */
  _row({ pid, command, cpu_seconds: cpuSeconds, memory_bytes: memoryBytes, node }) {
    const row = document.createElement("tr");
    row.dataset.pid = String(pid);
    const commandCell = cell(command, "process-command");
    commandCell.title = command;
    const kill = document.createElement("button");
    kill.type = "button";
    kill.className = "small danger";
    kill.textContent = "Kill";
    kill.dataset.kill = String(pid);
    kill.dataset.node = node || "";
    kill.dataset.command = command;
    kill.setAttribute("aria-label", `Kill process ${pid}`);
    const action = document.createElement("td");
    action.append(kill);
    row.append(
      cell(String(pid), "num"),
      commandCell,
      cell(Number(cpuSeconds).toFixed(1), "num"),
      cell(formatMemory(Number(memoryBytes)), "num"),
      action,
    );
    return row;
  }

  /** @param {HTMLButtonElement} button the process's kill button. */
  async _kill(button) {
    const pid = button.dataset.kill || "";
    if (!window.confirm(`Kill process ${pid} (${button.dataset.command})?`)) return;
    button.disabled = true;
    try {
      // A pid is only unique on the node that runs it.
      const node = encodeURIComponent(button.dataset.node || "");
      await apiFetch("DELETE", `${this._api}${encodeURIComponent(pid)}/?node=${node}`);
    } catch (error) {
      showError(error);
    }
    await this.refresh();
  }
}
