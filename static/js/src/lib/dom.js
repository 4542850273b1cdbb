/**
 * Finding the elements a page's template provides, with their types checked:
 * a template that lacks one, or has another kind of element there, fails at
 * once with the selector named instead of later with "null has no property".
 */

/**
 * The element matching `selector` in `root`, which the template always has.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @param {new (...args: any[]) => T} type the element's class, such as HTMLButtonElement.
 * @returns {T}
 */
export function requireElement(root, selector, type) {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) {
    throw new Error(`The page lacks the ${type.name} ${selector}.`);
  }
  return element;
}

/**
 * The element with `id` in the document, which the template always has.
 * @template {Element} T
 * @param {string} id
 * @param {new (...args: any[]) => T} type
 * @returns {T}
 */
export function requireId(id, type) {
  return requireElement(document, `#${CSS.escape(id)}`, type);
}

/**
 * The element of type `type` matching `selector` at or around an event's target, if any.
 * @template {Element} T
 * @param {Event} event
 * @param {string} selector
 * @param {new (...args: any[]) => T} type
 * @returns {T | null}
 */
export function closestToTarget(event, selector, type) {
  const target = event.target;
  if (!(target instanceof Element)) return null;
  const element = target.closest(selector);
  return element instanceof type ? element : null;
}

/**
 * A named control of a form (an input, select or textarea) that the template always has.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement}
 */
export function formControl(form, name) {
  const control = form.elements.namedItem(name);
  if (
    control instanceof HTMLInputElement ||
    control instanceof HTMLSelectElement ||
    control instanceof HTMLTextAreaElement
  ) {
    return control;
  }
  throw new Error(`The form lacks the field "${name}".`);
}

/**
 * The button that submitted a form, when it was a button.
 * @param {SubmitEvent} event
 * @returns {HTMLButtonElement | HTMLInputElement | null}
 */
export function submitterOf(event) {
  const submitter = event.submitter;
  return submitter instanceof HTMLButtonElement || submitter instanceof HTMLInputElement ? submitter : null;
}
