// A small Prometheus metrics registry: counters, gauges and histograms with labels, rendered
// in the text exposition format 0.0.4 (what Prometheus scrapes at GET /metrics). Hand-written
// because the needs are small and a hot path must not allocate per observation: a labelled
// series is looked up once (`series(...)`) and the handle is kept by the caller.
//
// Guarantees:
//   - metric and label names are checked against Prometheus' grammar when a family is made
//     (a bad name is a programmer error and asserts);
//   - label values are escaped (backslash, double quote, newline), so any string is safe;
//   - a family holds at most METRICS_SERIES_PER_FAMILY_MAX label combinations; one more is
//     refused with TXG_ERR_LIMIT_EXCEEDED instead of growing without bound;
//   - histogram buckets are cumulative in the output, end with le="+Inf", and _count equals
//     the +Inf bucket; counters only go up (a negative increment asserts);
//   - families render in the order they were made, series in the order they first appeared,
//     so two scrapes of the same state are byte-identical.
import { METRICS_SERIES_PER_FAMILY_MAX } from "../constants.ts";
import { assert, ErrorCode, TxgridError } from "../stdx/index.ts";

export type MetricType = "counter" | "gauge" | "histogram";

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Renders a sample value as Prometheus reads it (Go's ParseFloat accepts JS's forms). */
export function formatSampleValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelText(names: readonly string[], values: readonly string[], extra = ""): string {
  const pairs = names.map((name, index) => `${name}="${escapeLabelValue(values[index] ?? "")}"`);
  if (extra !== "") pairs.push(extra);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** What every family shares: its name, help, label names and the bounded series map. */
abstract class Family<TSeries> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: MetricType;
  protected readonly seriesByKey = new Map<string, { labels: readonly string[]; s: TSeries }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    assert(metricNamePattern.test(name), `metric name ${name} follows Prometheus' grammar`);
    for (const label of labelNames) {
      assert(labelNamePattern.test(label), `label name ${label} follows Prometheus' grammar`);
      assert(!label.startsWith("__"), "label names starting with __ are reserved");
      assert(label !== "le", "le is the histogram bucket label");
    }
    assert(new Set(labelNames).size === labelNames.length, "label names are distinct");
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected abstract create(): TSeries;

  /** The series for these label values (made on first use); keep it for hot paths. */
  series(...labels: readonly string[]): TSeries {
    assert(labels.length === this.labelNames.length, `${this.name} takes its label values`);
    // \u0000 cannot be typed in a label value by accident, so the key is unambiguous enough
    // for values we make; equal keys only ever come from equal value lists.
    const key = labels.join("\u0000");
    const found = this.seriesByKey.get(key);
    if (found !== undefined) return found.s;
    if (this.seriesByKey.size >= METRICS_SERIES_PER_FAMILY_MAX) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `metric ${this.name} has ${METRICS_SERIES_PER_FAMILY_MAX} series already ` +
          "(METRICS_SERIES_PER_FAMILY_MAX)",
      );
    }
    const s = this.create();
    this.seriesByKey.set(key, { labels: [...labels], s });
    return s;
  }

  get seriesCount(): number {
    return this.seriesByKey.size;
  }

  render(lines: string[]): void {
    lines.push(`# HELP ${this.name} ${escapeHelp(this.help)}`);
    lines.push(`# TYPE ${this.name} ${this.type}`);
    for (const { labels, s } of this.seriesByKey.values()) this.renderSeries(lines, labels, s);
  }

  protected abstract renderSeries(lines: string[], labels: readonly string[], s: TSeries): void;
}

export class CounterSeries {
  value = 0;

  inc(by = 1): void {
    assert(by >= 0, "a counter only goes up");
    this.value += by;
  }
}

export class Counter extends Family<CounterSeries> {
  readonly type = "counter";

  protected create(): CounterSeries {
    return new CounterSeries();
  }

  protected renderSeries(lines: string[], labels: readonly string[], s: CounterSeries): void {
    lines.push(`${this.name}${labelText(this.labelNames, labels)} ${formatSampleValue(s.value)}`);
  }
}

export class GaugeSeries {
  value = 0;

  set(value: number): void {
    this.value = value;
  }
}

export class Gauge extends Family<GaugeSeries> {
  readonly type = "gauge";

  protected create(): GaugeSeries {
    return new GaugeSeries();
  }

  /** Forgets every series (for gauges rebuilt from a source at each scrape). */
  clear(): void {
    this.seriesByKey.clear();
  }

  protected renderSeries(lines: string[], labels: readonly string[], s: GaugeSeries): void {
    lines.push(`${this.name}${labelText(this.labelNames, labels)} ${formatSampleValue(s.value)}`);
  }
}

export class HistogramSeries {
  readonly #upperBounds: readonly number[];
  /** counts[i]: observations in (bound[i-1], bound[i]]; the last slot is (last bound, +Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(upperBounds: readonly number[]) {
    this.#upperBounds = upperBounds;
    this.counts = new Float64Array(upperBounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#upperBounds;
    // Few buckets (at most a few dozen): a linear scan beats a binary search's branches.
    let index = 0;
    while (index < bounds.length && value > (bounds[index] as number)) index++;
    this.counts[index] = (this.counts[index] as number) + 1;
    this.sum += value;
    this.count++;
  }
}

export class Histogram extends Family<HistogramSeries> {
  readonly type = "histogram";
  readonly upperBounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], upperBounds: number[]) {
    super(name, help, labelNames);
    assert(upperBounds.length > 0, "a histogram has buckets");
    for (let index = 1; index < upperBounds.length; index++) {
      assert(
        (upperBounds[index - 1] as number) < (upperBounds[index] as number),
        "bucket bounds ascend",
      );
    }
    assert(Number.isFinite(upperBounds[upperBounds.length - 1]), "+Inf is implied, not given");
    this.upperBounds = [...upperBounds];
  }

  protected create(): HistogramSeries {
    return new HistogramSeries(this.upperBounds);
  }

  protected renderSeries(lines: string[], labels: readonly string[], s: HistogramSeries): void {
    let cumulative = 0;
    for (let index = 0; index <= this.upperBounds.length; index++) {
      cumulative += s.counts[index] as number;
      const bound = this.upperBounds[index];
      const le = `le="${bound === undefined ? "+Inf" : formatSampleValue(bound)}"`;
      lines.push(
        `${this.name}_bucket${labelText(this.labelNames, labels, le)} ${formatSampleValue(cumulative)}`,
      );
    }
    const text = labelText(this.labelNames, labels);
    lines.push(`${this.name}_sum${text} ${formatSampleValue(s.sum)}`);
    lines.push(`${this.name}_count${text} ${formatSampleValue(s.count)}`);
  }
}

/** Bucket bounds base * factor^i for i in 0..count-1 (Prometheus' ExponentialBuckets). */
export function exponentialBuckets(base: number, factor: number, count: number): number[] {
  assert(base > 0 && factor > 1, "exponential buckets grow from a positive base");
  assert(count >= 1, "at least one bucket");
  // Rounded to 6 significant digits so that the bounds read as the numbers they mean.
  return Array.from({ length: count }, (_, index) =>
    Number((base * factor ** index).toPrecision(6)),
  );
}

type AnyFamily = Counter | Gauge | Histogram;

export class MetricsRegistry {
  readonly #families = new Map<string, AnyFamily>();
  readonly #collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    assert(name.endsWith("_total"), "counter names end in _total");
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[],
    upperBounds: number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, upperBounds));
  }

  /** Runs before every render: for gauges read from a source (queue depth, memory). */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  get(name: string): AnyFamily | undefined {
    return this.#families.get(name);
  }

  /** The text exposition format, ending with a newline. */
  render(): string {
    for (const collect of this.#collectors) collect();
    const lines: string[] = [];
    for (const family of this.#families.values()) family.render(lines);
    return `${lines.join("\n")}\n`;
  }

  #add<T extends AnyFamily>(family: T): T {
    assert(!this.#families.has(family.name), `metric ${family.name} is registered once`);
    this.#families.set(family.name, family);
    return family;
  }
}

/** The Content-Type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
