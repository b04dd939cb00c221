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
 * Subscribes `sink` to the named components (`*` = the well-known ones plus any later created
 * tracer). Returns an unsubscribe function.
 */
export function watchTrace(components: readonly string[], sink: TraceSink): () => void {
  const names = new Set(components);
  const onMessage = (message: unknown): void => sink(message as TraceEvent);
  const subscribed: string[] = [];
  const subscribe = (name: string): void => {
    if (subscribed.includes(name)) return;
    diagnostics_channel.subscribe(`ambit:${name}`, onMessage);
    subscribed.push(name);
  };
  if (names.has("*")) {
    for (const name of [...KNOWN_COMPONENTS, ...tracers.keys()]) subscribe(name);
  }
  for (const name of names) if (name !== "*") subscribe(name);
  return () => {
    for (const name of subscribed) diagnostics_channel.unsubscribe(`ambit:${name}`, onMessage);
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
