import diagnostics_channel from "node:diagnostics_channel";

/**
 * Per-component tracing (AMBIT_TRACE=xds): events are published on the "ambit.xds" diagnostics
 * channel and cost one `hasSubscribers` check when nobody listens.
 */
export const xdsTrace = diagnostics_channel.channel("ambit.xds");

export function trace(event: string, fields: Record<string, unknown>): void {
  if (xdsTrace.hasSubscribers) xdsTrace.publish({ event, ...fields });
}
