/** The system-metrics sampler of tracked calls: registered by @quiver/sysmetrics, else imported lazily. */
import { describeValue, QuiverError } from "../errors.js";
import { importOptional } from "../store/registry.js";

/** Measures the machine while a tracked function runs (implemented by @quiver/sysmetrics). */
export interface MetricsSampler {
  start(): void;
  /** Averages over the interval since start(), e.g. { cpu, memory_percent, … }. */
  stop(): Record<string, number>;
}
export type SamplerOption = MetricsSampler | (() => MetricsSampler);

/** Options a sampler factory gets (interval in ms). */
export interface SamplerFactoryOptions {
  interval: number;
  network: boolean;
  system: boolean;
}
export type SamplerFactory = (options: SamplerFactoryOptions) => MetricsSampler;

// One slot per process, not per copy of core: an app that imported @quiver/sysmetrics by path
// (or has two copies of core installed) still finds it.
const SLOT = Symbol.for("@quiver/core.samplerFactory");
type Slot = { [SLOT]?: SamplerFactory };

/**
 * Registers the factory `systemMetrics` / `networkMetrics` use. @quiver/sysmetrics calls it when
 * imported, so importing it is enough, wherever it was resolved from.
 */
export function registerSampler(factory: SamplerFactory): void {
  if (typeof factory !== "function") throw new QuiverError("INVALID_VALUE", `registerSampler expects a function (options) => MetricsSampler, got ${describeValue(factory)}`);
  (globalThis as Slot)[SLOT] = factory;
}

export interface SamplerChoice {
  sampler?: SamplerOption;
  systemMetrics?: boolean;
  networkMetrics?: boolean;
  measurementInterval?: number;
}

/** The sampler factory for a Tracker's options, or undefined when none is asked for. */
export async function loadSampler(options: SamplerChoice): Promise<(() => MetricsSampler) | undefined> {
  if (options.sampler) {
    const s = options.sampler;
    return typeof s === "function" ? s : () => s;
  }
  if (!options.systemMetrics && !options.networkMetrics) return undefined;
  let create = (globalThis as Slot)[SLOT];
  if (!create) {
    const mod = await importOptional("@quiver/sysmetrics");
    create = ((globalThis as Slot)[SLOT] ?? mod?.createSampler) as SamplerFactory | undefined;
  }
  if (!create) {
    throw new QuiverError(
      "PACKAGE_NOT_INSTALLED",
      'systemMetrics/networkMetrics need @quiver/sysmetrics; install it with `pnpm add @quiver/sysmetrics` (or import it once in your app: `import "@quiver/sysmetrics"`)',
    );
  }
  const seconds = options.measurementInterval ?? 0.1;
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds <= 0) {
    throw new QuiverError("INVALID_VALUE", `measurementInterval must be a positive number of seconds, got ${describeValue(seconds)}`);
  }
  const factory = create;
  // networkMetrics alone logs only the network fields, as xetrack's log_network_params does.
  return () => factory({ interval: seconds * 1000, network: options.networkMetrics === true, system: options.systemMetrics === true });
}
