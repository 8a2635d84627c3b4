// xenlight/exporter: the host's statistics as Prometheus metrics (prom-client), served over HTTP
// or added to a registry of your own.
export { serveMetrics, XenCollector } from './monitor/exporter';
export type { CollectorOptions, MetricsServer, ServeOptions } from './monitor/exporter';
