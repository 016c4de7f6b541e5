// plot: hand-drawn SVG charts (line and bar) as pure functions from data to SVG text, shared
// by the bench report (Node) and the web console (the browser imports the compiled
// charts.js), so it depends on nothing.
export {
  type AxisScale,
  type BarChartOptions,
  type BarGroup,
  barChart,
  escapeXml,
  formatCompact,
  formatMicros,
  type LineChartOptions,
  type LineSeries,
  lineChart,
  niceTicks,
} from "./charts.ts";
