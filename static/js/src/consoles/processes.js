/**
 * The process list of the consoles page, refreshed every few seconds, with
 * a kill button per process.
 *
 * Refreshes pause while the tab is hidden (no point polling for nobody) and
 * never overlap: the next one is scheduled when the last has finished.
 */
import { apiFetch } from "../lib/api.js";
import { showError } from "../lib/notice.js";

const REFRESH_MS = 3000;

/** Memory the way people read it. */
export function formatMemory(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(bytes / (1024 * 1024 * 1024)).toFixed(2)} GiB`;
}

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
    this._rows = section.querySelector("tbody[data-process-rows]");
    this._error = section.querySelector("[data-process-error]");
    this._timer = null;
    this._loading = false;
    section.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-kill]");
      if (button) this._kill(button);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refresh();
    });
  }

  /** Fetch the list now, then keep refreshing it. */
  async refresh() {
    clearTimeout(this._timer);
    this._timer = null;
    if (this._loading) return;
    this._loading = true;
    try {
      this._render(await apiFetch("GET", this._api));
      this._error.hidden = true;
    } catch (error) {
      this._error.textContent = `Could not list your processes: ${error.message}`;
      this._error.hidden = false;
    } finally {
      this._loading = false;
      if (!document.hidden) this._timer = setTimeout(() => this.refresh(), REFRESH_MS);
    }
  }

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

  async _kill(button) {
    const pid = button.dataset.kill;
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
