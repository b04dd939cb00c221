/**
 * Per-component debug tracing over `node:diagnostics_channel`. A component publishes on the channel
 * `ambit:<component>`; nothing is formatted or allocated unless someone subscribed (`AMBIT_TRACE`
 * or a test), so tracing costs one boolean check when off.
 */
import diagnostics_channel from "node:diagnostics_channel";

export interface TraceEvent {
  readonly component: string;
  readonly msg: string;
  readonly fields: Readonly<Record<string, unknown>> | undefined;
  readonly time: number;
}

export class Tracer {
  readonly component: string;
  readonly #channel: diagnostics_channel.Channel;

  constructor(component: string) {
    this.component = component;
    this.#channel = diagnostics_channel.channel(`ambit:${component}`);
  }

  get enabled(): boolean {
    return this.#channel.hasSubscribers;
  }

  /** Pass a function for fields that are costly to build: it only runs when the channel is watched. */
  trace(msg: string, fields?: Record<string, unknown> | (() => Record<string, unknown>)): void {
    if (!this.#channel.hasSubscribers) return;
    const resolved = typeof fields === "function" ? fields() : fields;
    const event: TraceEvent = { component: this.component, msg, fields: resolved, time: Date.now() };
    this.#channel.publish(event);
  }
}

const tracers = new Map<string, Tracer>();

export function tracer(component: string): Tracer {
  let t = tracers.get(component);
  if (t === undefined) {
    t = new Tracer(component);
    tracers.set(component, t);
  }
  return t;
}

export type TraceSink = (event: TraceEvent) => void;

/**
 * Channels other areas publish on, by component name, for those that do not use `tracer()`
 * (the HBONE library's `ambit:hbone:pool` / `ambit:hbone:server`, the xDS library's `ambit.xds`).
 */
const CHANNEL_ALIASES: Readonly<Record<string, readonly string[]>> = {
  pool: ["ambit:pool", "ambit:hbone:pool"],
  hbone: ["ambit:hbone", "ambit:hbone:pool", "ambit:hbone:server"],
  xds: ["ambit:xds", "ambit.xds"],
};

function channelsOf(component: string): readonly string[] {
  return CHANNEL_ALIASES[component] ?? [`ambit:${component}`];
}

function asEvent(component: string, message: unknown): TraceEvent {
  if (typeof message === "object" && message !== null && "component" in message && "msg" in message) {
    return message as TraceEvent;
  }
  const fields =
    typeof message === "object" && message !== null
      ? (message as Record<string, unknown>)
      : { value: message };
  const msg =
    typeof fields["msg"] === "string"
      ? fields["msg"]
      : typeof fields["event"] === "string"
        ? fields["event"]
        : "";
  return { component, msg, fields, time: Date.now() };
}

/**
 * Subscribes `sink` to the named components (`*` = every known one and every tracer created so
 * far). Returns an unsubscribe function.
 */
export function watchTrace(components: readonly string[], sink: TraceSink): () => void {
  const names = new Set(components);
  if (names.has("*")) {
    names.delete("*");
    for (const name of [...KNOWN_COMPONENTS, ...tracers.keys()]) names.add(name);
  }
  const subscribed: [string, (message: unknown) => void][] = [];
  const seen = new Set<string>();
  for (const name of names) {
    for (const channel of channelsOf(name)) {
      if (seen.has(channel)) continue;
      seen.add(channel);
      const onMessage = (message: unknown): void => sink(asEvent(name, message));
      diagnostics_channel.subscribe(channel, onMessage);
      subscribed.push([channel, onMessage]);
    }
  }
  return () => {
    for (const [channel, onMessage] of subscribed) diagnostics_channel.unsubscribe(channel, onMessage);
    subscribed.length = 0;
  };
}

/** Components that publish traces; `AMBIT_TRACE=*` subscribes to all of them. */
export const KNOWN_COMPONENTS = [
  "pool",
  "hbone",
  "xds",
  "ca",
  "certs",
  "outbound",
  "inbound",
  "socks5",
  "state",
  "authz",
] as const;

/** The sink `AMBIT_TRACE` uses: one JSON line per event on stderr. */
export function stderrTraceSink(event: TraceEvent): void {
  process.stderr.write(
    `${JSON.stringify({ trace: event.component, time: event.time, msg: event.msg, ...event.fields })}\n`,
  );
}
