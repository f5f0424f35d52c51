/**
 * @quiver/sysmetrics: system and network metrics for tracked functions (xetrack's
 * log_system_params / log_network_params) and as a Session track.
 */
import { type MetricsSampler, registerSampler } from "@quiver/core";
import { LEAN, type Metrics, SystemSampler, type SystemSamplerOptions } from "./sampler.js";

export { SystemSampler, type SystemSamplerOptions, type Metrics } from "./sampler.js";
export { recordTo, type AppendTarget, type RecordOptions, type Recording } from "./record.js";
export { shutdownSamplers } from "./channel.js";
export { FIELDS } from "./layout.js";

/** Options core's Tracker passes (interval in ms). */
export interface CreateSamplerOptions {
  interval: number;
  network: boolean;
  system: boolean;
}

/**
 * The entry point core's Tracker loads lazily for `systemMetrics` / `networkMetrics`: a fresh
 * sampler per tracked call (the sampling worker behind it is shared).
 */
export function createSampler(options: CreateSamplerOptions): MetricsSampler & { stop(): Metrics } {
  const o: SystemSamplerOptions & { [LEAN]: true } = { interval: options.interval, network: options.network, system: options.system, gpu: options.system, [LEAN]: true };
  return new SystemSampler(o);
}

// Importing the package is enough for Tracker.open(uri, { systemMetrics: true }), however the
// app resolved it (by path, from another folder): core looks here before importing it itself.
registerSampler(createSampler);
