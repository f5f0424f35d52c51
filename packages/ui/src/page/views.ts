/**
 * Views of the dashboard. The runs view is the first; a tracks timeline, an array viewer and a
 * datasource gallery register here the same way (a name, a title, mount/unmount).
 */
import type { Api } from "./api.js";
import type { ViewState } from "./state.js";

export interface ViewContext {
  /** The live state; views mutate it and call save(). */
  state: ViewState;
  /** Whether the URL named the runs (an empty list then means "none", not "default"). */
  explicitRuns: boolean;
  /** Whether the URL named the x axis. */
  explicitX: boolean;
  /** Writes the state into the URL (replaceState). */
  save(): void;
  /** Switches to another state (new view or table): remounts. */
  navigate(state: ViewState): void;
}

export interface View {
  readonly name: string;
  readonly title: string;
  readonly el: HTMLElement;
  mount(): Promise<void>;
  unmount(): void;
  /** What the view drew, for tests and automation (window.quiver.inspect()). */
  inspect?(): unknown;
  /** Zooms the view's x axis, where it has one (window.quiver.zoom()). */
  zoom?(range: [number, number] | undefined): void;
}

export type ViewFactory = (api: Api, ctx: ViewContext) => View;

const registry = new Map<string, { title: string; create: ViewFactory }>();

export function registerView(name: string, title: string, create: ViewFactory): void {
  registry.set(name, { title, create });
}

export function views(): [string, { title: string; create: ViewFactory }][] {
  return [...registry];
}
