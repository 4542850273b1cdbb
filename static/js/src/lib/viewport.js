/**
 * Pages that fill the window (the console frame, the editor) keep the body
 * exactly as tall as the visible area, so a phone's on-screen keyboard
 * shrinks them instead of covering the line being typed.
 */

/** Follow the visual viewport's height from now on (nothing where browsers lack it). */
export function followVisualViewport() {
  const viewport = window.visualViewport;
  if (!viewport) return;
  const follow = () => {
    // While zoomed in, the visible area is not the page's size.
    if (Math.abs(viewport.scale - 1) > 0.01) return;
    document.body.style.height = `${Math.round(viewport.height)}px`;
  };
  viewport.addEventListener("resize", follow);
  follow();
}
