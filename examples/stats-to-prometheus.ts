// Domain statistics (what xentop shows) for Prometheus, or straight from the Stats API.
//
//   node out/examples/stats-to-prometheus.js [--listen 127.0.0.1:9603]   # serves /metrics
//   node out/examples/stats-to-prometheus.js --watch 5                  # 5 samples, 1 s apart
//
// Serving: prints the metrics URL and answers scrapes until SIGINT/SIGTERM. The server is
// read-only and rate-limited, and binds loopback unless told otherwise; each scrape takes (at
// most once a second, shared by concurrent scrapes) one sample of every domain.
// Prometheus: scrape_configs: [{ job_name: xen, static_configs: [{ targets: ['127.0.0.1:9603'] }] }]
import { parseArgs } from 'node:util';
import { Host, stateString } from '../src';
import { serveMetrics } from '../src/exporter';

const MiB = 2 ** 20;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { listen: { type: 'string', default: '127.0.0.1:9603' }, watch: { type: 'string' } } });
  let left = Number(values.watch ?? 1);
  if (!Number.isInteger(left) || left < 1) throw new Error('--watch takes a number of samples >= 1');
  await using host = await Host.open();

  if (values.watch !== undefined) {
    // The API itself: watch() yields a sample per interval, with rates since the one before
    // (none on the first). The same object is updated in place: copy what you keep.
    for await (const s of host.stats.watch({ intervalMs: 1000 })) {
      console.log(
        `host: ${s.cpus} CPUs, ${(s.freeMemoryBytes / MiB).toFixed(0)} of ${(s.totalMemoryBytes / MiB).toFixed(0)} MiB free` +
          (s.rates ? `, CPUs ${s.rates.cpuBusyPercent.toFixed(1)}% busy` : ''),
      );
      for (const d of s.domains) {
        const cpu = d.rates ? `${d.rates.cpuPercent.toFixed(1)}%` : '-';
        console.log(
          `  ${(d.name ?? '(null)').padEnd(20)} domid ${String(d.domid).padStart(4)}  state ${stateString(d)}  ` +
            `cpu ${(d.cpuTimeNs / 1e9).toFixed(1)} s (${cpu})  mem ${Math.floor(d.memoryBytes / MiB)} MiB  vcpus ${d.vcpus.length}  ` +
            `vifs ${d.networks.length}  vbds ${d.vbds.length}`,
        );
      }
      if (--left <= 0) break; // leaving the loop ends the watch
    }
    return;
  }

  // The exporter: xen_domain_cpu_seconds_total, xen_domain_memory_bytes, xen_domain_state…
  // (port 0 picks a free one; the printed URL says which).
  const srv = await serveMetrics(host, { listen: values.listen });
  console.log(`serving metrics at http://${srv.address}/metrics`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await srv.close();
  console.log('stopped');
}

main().catch((err) => {
  console.error(`stats-to-prometheus: ${err.message}`);
  for (const line of err.details ?? []) console.error(`  ${line}`);
  process.exitCode = 1;
});
