/**
 * Debug tracing of the HBONE area over `node:diagnostics_channel`: free when nobody subscribes
 * (the daemons subscribe when AMBIT_TRACE names `hbone`). Messages carry ids and states, never keys.
 */
import diagnostics_channel from "node:diagnostics_channel";

export const poolChannel = diagnostics_channel.channel("ambit:hbone:pool");
export const serverChannel = diagnostics_channel.channel("ambit:hbone:server");

export function trace(channel: diagnostics_channel.Channel, message: () => Record<string, unknown>): void {
  if (channel.hasSubscribers) channel.publish(message());
}
