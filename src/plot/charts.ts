// Hand-drawn SVG charts: line charts (linear, "nines" percentile or log axes, gaps for missing
// points) and bar charts (grouped, labelled). One implementation for two places: the bench
// report (`txgrid bench --report out.html`, rendered in Node into a self-contained file) and
// the web console, whose browser page imports the compiled file (dist/src/plot/charts.js)
// as an ES module. So this file imports nothing, touches no DOM and no I/O: data in, SVG
// text out, and it stays valid for any input.
//
// Guarantees: every text is XML-escaped; non-finite or null values are left out (a line
// breaks there instead of dropping to zero); an empty chart renders its frame and a "no data"
// note; the SVG has a viewBox, so it scales to its container; output is deterministic.

export interface LineSeries {
  readonly name: string;
  readonly color: string;
  /** [x, y] pairs; a null or non-finite y breaks the line. */
  readonly points: readonly (readonly [number, number | null])[];
  /** Dashed stroke (e.g. a p99 beside a p50). */
  readonly dashed?: boolean;
}

/** linear: as is; nines: percentiles 0..100 spaced by 1/(1-p) (HDR plots); log: log10. */
export type AxisScale = "linear" | "nines" | "log";

export interface LineChartOptions {
  readonly title: string;
  readonly series: readonly LineSeries[];
  readonly width?: number;
  readonly height?: number;
  readonly xScale?: AxisScale;
  readonly yScale?: AxisScale;
  readonly xLabel?: string;
  readonly yLabel?: string;
  readonly formatX?: (x: number) => string;
  readonly formatY?: (y: number) => string;
  /** Fixed x range (e.g. the last 120 s of a live chart); default: the data's extent. */
  readonly xDomain?: readonly [number, number];
  /** Lowest y the axis shows; linear axes start at 0 unless told. */
  readonly yMin?: number;
}

export interface BarGroup {
  readonly label: string;
  /** One value per series, in the order of `seriesNames`; null leaves a gap. */
  readonly values: readonly (number | null)[];
}

export interface BarChartOptions {
  readonly title: string;
  readonly seriesNames: readonly string[];
  readonly colors: readonly string[];
  readonly groups: readonly BarGroup[];
  readonly width?: number;
  readonly height?: number;
  readonly yLabel?: string;
  readonly formatY?: (y: number) => string;
  /** Highlights one group (e.g. txgrid among its peers). */
  readonly highlight?: string;
}

const margin = { top: 34, right: 16, bottom: 46, left: 64 };
const ninesMax = 100 - 1e-4;

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** A compact number: 1234 -> "1234", 12345 -> "12.3k", 0.5 -> "0.5", 2500000 -> "2.5M". */
export function formatCompact(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude >= 1e9) return `${trim(value / 1e9)}G`;
  if (magnitude >= 1e6) return `${trim(value / 1e6)}M`;
  if (magnitude >= 1e4) return `${trim(value / 1e3)}k`;
  return Number.isInteger(value) ? String(value) : trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** Microseconds as a readable duration: 850 -> "850 µs", 12500 -> "12.5 ms", 2e6 -> "2 s". */
export function formatMicros(us: number): string {
  if (us >= 1e6) return `${trim(us / 1e6)} s`;
  if (us >= 1e3) return `${trim(us / 1e3)} ms`;
  return `${trim(us)} µs`;
}

function transform(scale: AxisScale, value: number): number {
  if (scale === "log") return Math.log10(Math.max(value, 1e-12));
  if (scale === "nines") return -Math.log10(1 - Math.min(value, ninesMax) / 100);
  return value;
}

/** Round tick positions ("nice numbers": 1, 2, 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, countWanted: number): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi)) || hi < lo) return [];
  if (hi === lo) return [lo];
  const rough = (hi - lo) / Math.max(1, countWanted);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let tick = Math.ceil(lo / step) * step; tick <= hi + step * 1e-9; tick += step) {
    ticks.push(Number(tick.toPrecision(12)));
    if (ticks.length > 50) break;
  }
  return ticks;
}

function axisTicks(scale: AxisScale, lo: number, hi: number, count: number): number[] {
  if (scale === "linear") return niceTicks(lo, hi, count);
  if (scale === "nines") {
    return [0, 50, 90, 99, 99.9, 99.99, 99.999].filter(
      (p) => transform("nines", p) <= hi + 1e-9 && transform("nines", p) >= lo - 1e-9,
    );
  }
  const ticks: number[] = [];
  for (let power = Math.floor(lo); power <= Math.ceil(hi); power++) {
    if (power >= lo - 1e-9 && power <= hi + 1e-9) ticks.push(10 ** power);
  }
  return ticks;
}

function frame(width: number, height: number, title: string, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" ` +
      `role="img" aria-label="${escapeXml(title)}" class="chart" ` +
      'font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="11">',
    `<title>${escapeXml(title)}</title>`,
    `<text x="${margin.left}" y="18" font-size="13" font-weight="600" fill="currentColor">` +
      `${escapeXml(title)}</text>`,
    ...body,
    "</svg>",
  ].join("");
}

function fixed(value: number): string {
  return String(Math.round(value * 10) / 10);
}

export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 260;
  const xScale = options.xScale ?? "linear";
  const yScale = options.yScale ?? "linear";
  const formatX = options.formatX ?? formatCompact;
  const formatY = options.formatY ?? formatCompact;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const usable = (x: number, y: number | null): y is number =>
    y !== null &&
    Number.isFinite(x) &&
    Number.isFinite(y) &&
    (yScale !== "log" || y > 0) &&
    (xScale !== "log" || x > 0);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const series of options.series) {
    for (const [x, y] of series.points) {
      if (!usable(x, y)) continue;
      xs.push(transform(xScale, x));
      ys.push(transform(yScale, y));
    }
  }
  const body: string[] = [];
  const empty = xs.length === 0;
  let [x0, x1] =
    options.xDomain === undefined
      ? [Math.min(...xs), Math.max(...xs)]
      : [transform(xScale, options.xDomain[0]), transform(xScale, options.xDomain[1])];
  if (empty && options.xDomain === undefined) [x0, x1] = [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  const yFloor = options.yMin ?? (yScale === "linear" ? 0 : Number.POSITIVE_INFINITY);
  let y0 = empty ? 0 : Math.min(transform(yScale, yFloor), ...ys);
  let y1 = empty ? 1 : Math.max(...ys);
  if (yScale === "linear") {
    const ticks = niceTicks(y0, y1 === y0 ? y0 + 1 : y1, 4);
    y1 = Math.max(y1, ticks[ticks.length - 1] ?? y1);
  } else {
    y0 = Math.floor(y0);
    y1 = Math.ceil(y1);
  }
  if (y1 === y0) y1 = y0 + 1;
  const px = (x: number) => margin.left + ((transform(xScale, x) - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => margin.top + plotH - ((transform(yScale, y) - y0) / (y1 - y0)) * plotH;
  // Grid and axes.
  for (const tick of axisTicks(yScale, y0, y1, 4)) {
    const y = fixed(py(tick));
    body.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" ` +
        'stroke="currentColor" stroke-opacity="0.12"/>',
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" ` +
        `fill="currentColor" fill-opacity="0.7">${escapeXml(formatY(tick))}</text>`,
    );
  }
  for (const tick of axisTicks(xScale, x0, x1, 6)) {
    const x = fixed(px(tick));
    body.push(
      `<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${margin.top + plotH}" ` +
        'stroke="currentColor" stroke-opacity="0.08"/>',
      `<text x="${x}" y="${margin.top + plotH + 14}" text-anchor="middle" ` +
        `fill="currentColor" fill-opacity="0.7">${escapeXml(formatX(tick))}</text>`,
    );
  }
  body.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" ` +
      'fill="none" stroke="currentColor" stroke-opacity="0.3"/>',
  );
  if (options.xLabel !== undefined) {
    body.push(
      `<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle" ` +
        `fill="currentColor" fill-opacity="0.8">${escapeXml(options.xLabel)}</text>`,
    );
  }
  if (options.yLabel !== undefined) {
    const cy = margin.top + plotH / 2;
    body.push(
      `<text transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle" ` +
        `fill="currentColor" fill-opacity="0.8">${escapeXml(options.yLabel)}</text>`,
    );
  }
  if (empty) {
    body.push(
      `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH / 2}" text-anchor="middle" ` +
        'fill="currentColor" fill-opacity="0.5">no data yet</text>',
    );
  }
  // Lines, clipped to the domain, one path per unbroken run of points.
  const inDomain = (x: number) => {
    const t = transform(xScale, x);
    return t >= x0 - 1e-9 && t <= x1 + 1e-9;
  };
  for (const series of options.series) {
    const runs: (readonly [string, string])[][] = [];
    let run: (readonly [string, string])[] = [];
    for (const [x, y] of series.points) {
      if (!usable(x, y) || !inDomain(x)) {
        if (run.length > 0) runs.push(run);
        run = [];
        continue;
      }
      run.push([fixed(px(x)), fixed(py(y))]);
    }
    if (run.length > 0) runs.push(run);
    const color = escapeXml(series.color);
    const dash = series.dashed === true ? ' stroke-dasharray="5 3"' : "";
    for (const points of runs) {
      const [first] = points;
      if (points.length === 1 && first !== undefined) {
        // A lone point (one second with writes between quiet ones) would be an invisible path.
        body.push(`<circle cx="${first[0]}" cy="${first[1]}" r="2.5" fill="${color}"/>`);
        continue;
      }
      const path = points.map(([x, y], index) => `${index === 0 ? "M" : "L"}${x} ${y}`).join(" ");
      body.push(
        `<path d="${path}" fill="none" stroke="${color}" ` +
          `stroke-width="1.8" stroke-linejoin="round"${dash}/>`,
      );
    }
  }
  body.push(legend(options.series, width));
  return frame(width, height, options.title, body);
}

function legend(
  series: readonly { name: string; color: string; dashed?: boolean }[],
  width: number,
) {
  const parts: string[] = [];
  let x = width - margin.right;
  for (const item of [...series].reverse()) {
    const textWidth = item.name.length * 6.2;
    x -= textWidth;
    parts.push(
      `<text x="${fixed(x)}" y="18" fill="currentColor" fill-opacity="0.85">` +
        `${escapeXml(item.name)}</text>`,
    );
    x -= 22;
    const dash = item.dashed === true ? ' stroke-dasharray="5 3"' : "";
    parts.push(
      `<line x1="${fixed(x)}" x2="${fixed(x + 16)}" y1="14" y2="14" ` +
        `stroke="${escapeXml(item.color)}" stroke-width="2.5"${dash}/>`,
    );
    x -= 14;
  }
  return `<g class="legend">${parts.join("")}</g>`;
}

export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 260;
  const formatY = options.formatY ?? formatCompact;
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const values = options.groups.flatMap((group) =>
    group.values.filter((v): v is number => v !== null && Number.isFinite(v) && v >= 0),
  );
  const body: string[] = [];
  const top = values.length === 0 ? 1 : Math.max(...values);
  const ticks = niceTicks(0, top === 0 ? 1 : top, 4);
  const yMax = Math.max(top, ticks[ticks.length - 1] ?? 1) || 1;
  const py = (y: number) => margin.top + plotH - (y / yMax) * plotH;
  for (const tick of ticks) {
    const y = fixed(py(tick));
    body.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" ` +
        'stroke="currentColor" stroke-opacity="0.12"/>',
      `<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" ` +
        `fill="currentColor" fill-opacity="0.7">${escapeXml(formatY(tick))}</text>`,
    );
  }
  const groupCount = Math.max(1, options.groups.length);
  const groupW = plotW / groupCount;
  const seriesCount = Math.max(1, options.seriesNames.length);
  const barW = Math.max(1, (groupW * 0.75) / seriesCount);
  // Labels need about 7 px per character: with many narrow groups, only every n-th is named.
  const labelChars = Math.max(1, ...options.groups.map((group) => group.label.length));
  const labelEvery = Math.max(1, Math.ceil(((labelChars + 2) * 7) / groupW));
  options.groups.forEach((group, groupIndex) => {
    const gx = margin.left + groupIndex * groupW + groupW * 0.125;
    const bold = group.label === options.highlight ? ' font-weight="700"' : "";
    if (groupIndex % labelEvery === 0) {
      body.push(
        `<text x="${fixed(gx + (barW * seriesCount) / 2)}" y="${margin.top + plotH + 14}" ` +
          `text-anchor="middle" fill="currentColor"${bold}>${escapeXml(group.label)}</text>`,
      );
    }
    group.values.forEach((value, seriesIndex) => {
      if (value === null || !Number.isFinite(value) || value < 0) return;
      const x = gx + seriesIndex * barW;
      const y = py(value);
      const color = options.colors[seriesIndex % Math.max(1, options.colors.length)] ?? "#4c78a8";
      const name = options.seriesNames[seriesIndex] ?? "";
      body.push(
        `<rect x="${fixed(x)}" y="${fixed(y)}" width="${fixed(barW - 1)}" ` +
          `height="${fixed(margin.top + plotH - y)}" fill="${escapeXml(color)}">` +
          `<title>${escapeXml(`${group.label} ${name}: ${formatY(value)}`)}</title></rect>`,
      );
      if (options.groups.length * seriesCount <= 16) {
        body.push(
          `<text x="${fixed(x + (barW - 1) / 2)}" y="${fixed(y - 4)}" text-anchor="middle" ` +
            `font-size="10" fill="currentColor" fill-opacity="0.8">${escapeXml(formatY(value))}</text>`,
        );
      }
    });
  });
  body.push(
    `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${margin.top + plotH}" ` +
      `y2="${margin.top + plotH}" stroke="currentColor" stroke-opacity="0.4"/>`,
  );
  if (options.yLabel !== undefined) {
    const cy = margin.top + plotH / 2;
    body.push(
      `<text transform="translate(14 ${cy}) rotate(-90)" text-anchor="middle" ` +
        `fill="currentColor" fill-opacity="0.8">${escapeXml(options.yLabel)}</text>`,
    );
  }
  if (values.length === 0) {
    body.push(
      `<text x="${margin.left + plotW / 2}" y="${margin.top + plotH / 2}" text-anchor="middle" ` +
        'fill="currentColor" fill-opacity="0.5">no data</text>',
    );
  }
  if (options.seriesNames.length > 1) {
    body.push(
      legend(
        options.seriesNames.map((name, index) => ({
          name,
          color: options.colors[index % Math.max(1, options.colors.length)] ?? "#4c78a8",
        })),
        width,
      ),
    );
  }
  return frame(width, height, options.title, body);
}
