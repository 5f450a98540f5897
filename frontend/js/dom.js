// Tiny DOM helpers: build elements without innerHTML, so market data can never inject markup.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** el("td", {class: "num", dataset: {x: 1}}, "text", childNode) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, "");
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Puts a spinner in a button and disables it; answers a function that restores it. */
export function busy(button, label = "") {
  if (!button) return () => {};
  const before = Array.from(button.childNodes);
  const wasDisabled = button.disabled;
  button.disabled = true;
  button.classList.add("is-busy");
  button.setAttribute("aria-busy", "true");
  button.replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), label || button.textContent);
  return () => {
    button.replaceChildren(...before);
    button.disabled = wasDisabled;
    button.classList.remove("is-busy");
    button.removeAttribute("aria-busy");
  };
}
