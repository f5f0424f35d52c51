/** Small DOM helpers and the URL parameters of the timeline, array and gallery views. */

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

export function select(options: [string, string][], value: string, onChange: (v: string) => void, name: string): HTMLSelectElement {
  const s = el("select", { name, "aria-label": name });
  for (const [v, label] of options) s.append(el("option", { value: v }, label));
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

/** A URL parameter of the current view. */
export function param(name: string): string | undefined {
  return new URLSearchParams(location.search).get(name) ?? undefined;
}

/** Sets (or, with undefined, removes) URL parameters, keeping the others (view, token). */
export function setParams(values: Record<string, string | undefined>): void {
  const p = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === "") p.delete(k);
    else p.set(k, v);
  }
  history.replaceState(null, "", `?${p.toString()}${location.hash}`);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MB`;
  return `${(n / (1 << 30)).toFixed(2)} GB`;
}

/** An error box (role=alert) that hides itself when empty. */
export function errorBox(): { el: HTMLElement; show: (m: string | undefined) => void } {
  const e = el("div", { class: "q-error-box", role: "alert" });
  e.hidden = true;
  return {
    el: e,
    show: (m) => {
      e.textContent = m ?? "";
      e.hidden = !m;
    },
  };
}
