/**
 * The consoles page (list.html): start buttons, launcher editor, process list,
 * times shown in the reader's time zone. Closing a console uses the shared
 * `button[data-api-delete]` behaviour of app.js.
 */
import { wireStartButtons } from "./consoles/start.js";
import { LauncherEditor } from "./consoles/launchers.js";
import { ProcessList } from "./consoles/processes.js";
import { localiseTimes } from "./lib/format.js";
import "../../css/console.css";

function main() {
  const page = document.getElementById("consoles-page");
  if (!page) return;
  const apiBase = page.dataset.apiBase;
  if (!apiBase) throw new Error("The #consoles-page element needs data-api-base.");
  const directory = document.getElementById("start-directory");
  if (directory && !(directory instanceof HTMLInputElement)) throw new Error("#start-directory must be an input.");
  wireStartButtons(page, apiBase, () => (directory ? directory.value.trim() : ""));

  const launchers = document.getElementById("launchers");
  if (launchers) new LauncherEditor(launchers, apiBase);
  const processes = document.getElementById("processes");
  if (processes) new ProcessList(processes, apiBase).refresh();
  localiseTimes(page);
}

main();
