/**
 * Short messages for the user in a corner of the page ("toasts").
 *
 * Every page loads this (through app.js, and again inside page bundles), so it
 * styles itself with inline styles rather than relying on a stylesheet that a
 * page might not include; the classes `toasts`, `toast` and `toast-<level>`
 * let tests and stylesheets find them.
 */

const CONTAINER_ID = "toasts";
const COLOURS = {
  error: { background: "#fde8e8", border: "#d64545", text: "#5c1010" },
  info: { background: "#e8f0fd", border: "#3b6fd6", text: "#102a5c" },
  success: { background: "#e6f6ea", border: "#2f9e52", text: "#0e3d1d" },
};

/** The one container of notices on the page, created on first use. */
function noticeContainer() {
  let container = document.getElementById(CONTAINER_ID);
  if (container) return container;
  container = document.createElement("div");
  container.id = CONTAINER_ID;
  container.className = "toasts";
  container.setAttribute("aria-live", "assertive");
  Object.assign(container.style, {
    position: "fixed",
    right: "1rem",
    bottom: "1rem",
    left: "auto",
    zIndex: "1000",
    display: "flex",
    flexDirection: "column",
    gap: "0.5rem",
    maxWidth: "min(28rem, calc(100vw - 2rem))",
  });
  document.body.append(container);
  return container;
}

/**
 * Show a message to the user.
 *
 * Errors stay until dismissed (the user may need to read or copy them); other
 * levels go away by themselves after `timeoutMs`.
 *
 * @param {string} message
 * @param {{level?: "error" | "info" | "success", timeoutMs?: number}} [options]
 * @returns {HTMLElement} the notice, so a caller can remove it early.
 */
export function showNotice(message, { level = "info", timeoutMs = 6000 } = {}) {
  const colours = COLOURS[level] || COLOURS.info;
  const notice = document.createElement("div");
  notice.className = `toast toast-${level}`;
  notice.setAttribute("role", level === "error" ? "alert" : "status");
  Object.assign(notice.style, {
    display: "flex",
    alignItems: "flex-start",
    gap: "0.75rem",
    padding: "0.6rem 0.8rem",
    borderRadius: "6px",
    borderLeft: `4px solid ${colours.border}`,
    background: colours.background,
    color: colours.text,
    boxShadow: "0 2px 8px rgba(0, 0, 0, 0.15)",
    font: "14px/1.4 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    overflowWrap: "anywhere",
  });

  const text = document.createElement("span");
  text.className = "toast-text";
  text.textContent = message;
  text.style.flex = "1";

  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.setAttribute("aria-label", "Dismiss");
  close.textContent = "×";
  Object.assign(close.style, {
    border: "none",
    background: "transparent",
    color: "inherit",
    font: "inherit",
    fontSize: "1.2em",
    lineHeight: "1",
    cursor: "pointer",
    padding: "0",
  });
  close.addEventListener("click", () => notice.remove());

  notice.append(text, close);
  noticeContainer().append(notice);
  if (level !== "error" && timeoutMs > 0) {
    setTimeout(() => notice.remove(), timeoutMs);
  }
  return notice;
}

/**
 * The text to show for an error caught from an API call or elsewhere
 * (anything may be thrown, not only an Error).
 * @param {unknown} error
 * @returns {string}
 */
export function errorMessage(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Show an error caught from an API call or elsewhere.
 * @param {unknown} error
 */
export function showError(error) {
  return showNotice(errorMessage(error), { level: "error" });
}
