/**
 * URLs for files named by their visible paths (`/home/<user>/…`): each
 * segment percent-encoded, so names with spaces, `#` or `?` survive.
 */

/** @param {string} visiblePath */
export function encodePath(visiblePath) {
  return visiblePath.split("/").map(encodeURIComponent).join("/");
}

/**
 * The `files/path…` API URL of a visible path.
 * @param {string} apiBase `/api/v0/user/<u>/`
 * @param {string} visiblePath
 */
export function fileApiUrl(apiBase, visiblePath) {
  return `${apiBase}files/path${encodePath(visiblePath)}`;
}

/**
 * The editor page of a file.
 * @param {string} owner
 * @param {string} visiblePath
 */
export function editorPageUrl(owner, visiblePath) {
  return `/user/${encodeURIComponent(owner)}/files${encodePath(visiblePath)}?edit`;
}

/**
 * What a user typed as a name, as a visible path: absolute paths stay,
 * anything else is inside `directory` (which ends in "/").
 * @param {string} directory
 * @param {string} typed
 * @returns {string}
 * @throws {Error} for an empty name or one with `..` or `.` segments.
 */
export function resolveName(directory, typed) {
  const name = typed.trim();
  if (!name) throw new Error("Type a name first.");
  const path = name.startsWith("/") ? name : directory + name;
  const segments = path.split("/").slice(1);
  if (segments.some((segment, index) => segment === "." || segment === ".." || (segment === "" && index < segments.length - 1))) {
    throw new Error(`"${name}" is not a usable name: leave out "..", "." and doubled slashes.`);
  }
  return path;
}
