// Prometheus metrics of a Xen host (prom-client): one statistics sample per scrape, shared by
// concurrent scrapes and cached for minIntervalMs, so scrapers cannot drive the hypervisor harder
// than that; a sample the application took within minIntervalMs (host.stats.watch()) is served
// instead of a new one. A domain's series are labelled by its UUID and name, which survive a reboot, a
// restore and a migration (its domid does not: that is in xen_domain_info, for joins). The HTTP
// server is read-only (GET/HEAD of one path), binds loopback unless told otherwise, takes no
// request bodies and limits headers, connections and requests per second.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { badNumber, invalidArg, outOfRange, XenError } from '../core/errors';
import type { Host } from '../core/host';
import type { StatsSample } from './stats';

export interface CollectorOptions {
  /** Register into this registry (default: a new one, so nothing global is touched). */
  registry?: Registry;
  /** A sample younger than this is reused (default 1000 ms). */
  minIntervalMs?: number;
}

/** Linux's names of Xen virtual block devices (xvda, hda, sda…), from the vdev number. */
export function vbdName(dev: number): string {
  const letters = (n: number) => {
    let s = '';
    for (let i = n + 1; i > 0; i = Math.floor((i - 1) / 26)) s = String.fromCharCode(97 + ((i - 1) % 26)) + s;
    return s;
  };
  if (dev & (1 << 28)) return `xvd${letters((dev >> 8) & 0xfffff)}`;
  const major = dev >> 8;
  const minor = dev & 0xff;
  if (major === 202) return `xvd${letters(minor >> 4)}${minor & 15 ? minor & 15 : ''}`;
  if (major === 3 || major === 22) return `hd${letters((major === 22 ? 2 : 0) + (minor >> 6))}${minor & 63 ? minor & 63 : ''}`;
  if (major === 8) return `sd${letters(minor >> 4)}${minor & 15 ? minor & 15 : ''}`;
  return String(dev);
}

const DOMAIN_STATES = ['running', 'blocked', 'paused', 'shutdown', 'crashed', 'dying'] as const;

/** An Ethernet header's bytes (Linux's ETH_HLEN). */
const ETH_HLEN = 14;

/** The host's metrics in a prom-client Registry; `metrics()` samples (at most once per minIntervalMs). */
export class XenCollector {
  readonly registry: Registry;
  private readonly minIntervalMs: number;
  private lastAt: number | null = null;
  private pending: Promise<void> | null = null;
  private readonly m;

  constructor(
    private readonly host: Host,
    opts: CollectorOptions = {},
  ) {
    const minIntervalMs = opts.minIntervalMs ?? 1000;
    if (typeof minIntervalMs !== 'number' || !(minIntervalMs >= 0) || !Number.isFinite(minIntervalMs)) {
      throw badNumber('metrics collector', minIntervalMs, 'minIntervalMs must be a number >= 0');
    }
    this.minIntervalMs = minIntervalMs;
    this.registry = opts.registry ?? new Registry();
    const registers = [this.registry];
    const dom = ['uuid', 'domain'] as const;
    const g = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Gauge({ name, help, labelNames, registers });
    const c = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
      new Counter({ name, help, labelNames, registers });
    this.m = {
      up: g('xen_up', 'Whether the last statistics sample of the hypervisor succeeded (1) or failed (0).', []),
      scrape: g('xen_exporter_sample_duration_seconds', 'Time the statistics sample took (0 when one was reused).', []),
      sampleAge: g(
        'xen_exporter_sample_age_seconds',
        "Age of the statistics sample served: 0 when the scrape took it, more when it reused the application's (host.stats.watch()).",
        [],
      ),
      info: g('xen_info', 'The hypervisor version (always 1).', ['version']),
      hostMem: g('xen_host_memory_bytes', 'Host memory known to Xen.', []),
      hostFree: g('xen_host_memory_free_bytes', 'Host memory free in Xen.', []),
      hostCpus: g('xen_host_cpus', 'Physical CPUs.', []),
      hostHz: g('xen_host_cpu_frequency_hertz', 'Physical CPU frequency.', []),
      pcpuIdle: c('xen_host_cpu_idle_seconds_total', 'Idle time of each physical CPU.', ['cpu']),
      domains: g('xen_domains', 'Domains on the host.', []),
      domainInfo: g('xen_domain_info', "A domain's identity (always 1): its UUID, name and current domid.", [...dom, 'domid']),
      cpu: c('xen_domain_cpu_seconds_total', 'CPU time used by all vCPUs of the domain.', dom),
      vcpuTime: c('xen_domain_vcpu_seconds_total', 'CPU time used by each vCPU.', [...dom, 'vcpu']),
      vcpus: g('xen_domain_vcpus', 'vCPUs of the domain.', dom),
      vcpusOnline: g('xen_domain_vcpus_online', 'Online vCPUs of the domain.', dom),
      mem: g('xen_domain_memory_bytes', 'Current memory of the domain.', dom),
      maxMem: g('xen_domain_memory_max_bytes', 'Memory limit of the domain (absent: no limit).', dom),
      state: g('xen_domain_state', "Domain state flags (1 set, 0 not), as xentop's STATE letters.", [...dom, 'state']),
      // The guest's side (dom0's end of the vif counts the other way round: what dom0 receives is
      // what the guest sent), in bytes of whole Ethernet frames. vif: the vif's device id.
      rxBytes: c('xen_domain_network_receive_bytes_total', 'Bytes the domain received on a vif.', [...dom, 'vif']),
      rxPackets: c('xen_domain_network_receive_packets_total', 'Packets the domain received on a vif.', [...dom, 'vif']),
      rxErrors: c('xen_domain_network_receive_errors_total', 'Errors delivering packets to the domain on a vif.', [
        ...dom,
        'vif',
      ]),
      rxDrops: c('xen_domain_network_receive_drops_total', 'Packets for the domain dropped on a vif.', [...dom, 'vif']),
      txBytes: c('xen_domain_network_transmit_bytes_total', 'Bytes the domain sent on a vif.', [...dom, 'vif']),
      txPackets: c('xen_domain_network_transmit_packets_total', 'Packets the domain sent on a vif.', [...dom, 'vif']),
      txErrors: c('xen_domain_network_transmit_errors_total', 'Errors on packets the domain sent on a vif.', [...dom, 'vif']),
      txDrops: c('xen_domain_network_transmit_drops_total', 'Packets the domain sent that were dropped on a vif.', [
        ...dom,
        'vif',
      ]),
      rdReq: c('xen_domain_block_read_requests_total', 'Read requests on a block device.', [...dom, 'device']),
      wrReq: c('xen_domain_block_write_requests_total', 'Write requests on a block device.', [...dom, 'device']),
      rdBytes: c('xen_domain_block_read_bytes_total', 'Bytes read from a block device.', [...dom, 'device']),
      wrBytes: c('xen_domain_block_write_bytes_total', 'Bytes written to a block device.', [...dom, 'device']),
      oo: c('xen_domain_block_out_of_requests_total', 'Times the block backend ran out of requests.', [...dom, 'device']),
    };
  }

  /** Takes a sample (unless one is fresh) and sets every metric from it. */
  async collect(): Promise<void> {
    if (this.lastAt !== null && performance.now() - this.lastAt < this.minIntervalMs) return;
    this.pending ??= this.refresh().finally(() => {
      this.pending = null;
    });
    await this.pending;
  }

  /** The metrics in Prometheus text format (what the server answers). */
  async metrics(): Promise<string> {
    await this.collect();
    return this.registry.metrics();
  }

  private async refresh(): Promise<void> {
    const m = this.m;
    const t0 = performance.now();
    let s: StatsSample;
    // A sample the application took (a running host.stats.watch(), or sample()) within
    // minIntervalMs is served as it is: one sampler for the application and the scrape.
    const reused = this.host.stats.latest(this.minIntervalMs);
    try {
      s = reused ?? (await this.host.stats.sample());
    } catch (e) {
      for (const metric of Object.values(m)) metric.reset();
      m.up.set(0);
      this.lastAt = performance.now();
      if (!(e instanceof XenError)) throw e;
      return;
    }
    for (const metric of Object.values(m)) metric.reset();
    m.up.set(1);
    m.scrape.set(reused ? 0 : (performance.now() - t0) / 1000);
    m.sampleAge.set(reused ? Number(process.hrtime.bigint() - s.time) / 1e9 : 0);
    m.info.set({ version: s.xenVersion ?? 'unknown' }, 1);
    m.hostMem.set(s.totalMemoryBytes);
    m.hostFree.set(s.freeMemoryBytes);
    m.hostCpus.set(s.cpus);
    m.hostHz.set(s.cpuHz);
    s.pcpuIdleNs.forEach((ns, cpu) => m.pcpuIdle.inc({ cpu: String(cpu) }, ns / 1e9));
    m.domains.set(s.domains.length);
    for (const d of s.domains) {
      const l = { uuid: d.uuid, domain: d.name ?? '' };
      m.domainInfo.set({ ...l, domid: String(d.domid) }, 1);
      m.cpu.inc(l, d.cpuTimeNs / 1e9);
      d.vcpus.forEach((v, i) => m.vcpuTime.inc({ ...l, vcpu: String(i) }, v.cpuTimeNs / 1e9));
      m.vcpus.set(l, d.vcpus.length);
      m.vcpusOnline.set(l, d.vcpus.filter((v) => v.online).length);
      m.mem.set(l, d.memoryBytes);
      if (d.maxMemoryBytes !== null) m.maxMem.set(l, d.maxMemoryBytes);
      for (const st of DOMAIN_STATES) m.state.set({ ...l, state: st }, d[st] ? 1 : 0);
      for (const n of d.networks) {
        const v = { ...l, vif: String(n.id) };
        // NetworkStats is dom0's end (xentop's view): its tx is what the guest received. netback
        // counts what it receives after taking the 14-byte Ethernet header off (eth_type_trans)
        // and what it sends with it: add the headers back, so both ways count whole frames.
        m.rxBytes.inc(v, n.txBytes);
        m.rxPackets.inc(v, n.txPackets);
        m.rxErrors.inc(v, n.txErrors);
        m.rxDrops.inc(v, n.txDrops);
        m.txBytes.inc(v, n.rxBytes + ETH_HLEN * n.rxPackets);
        m.txPackets.inc(v, n.rxPackets);
        m.txErrors.inc(v, n.rxErrors);
        m.txDrops.inc(v, n.rxDrops);
      }
      for (const b of d.vbds) {
        const v = { ...l, device: vbdName(b.dev) };
        m.rdReq.inc(v, b.readRequests);
        m.wrReq.inc(v, b.writeRequests);
        m.rdBytes.inc(v, b.readSectors * 512);
        m.wrBytes.inc(v, b.writeSectors * 512);
        m.oo.inc(v, b.outOfRequests);
      }
    }
    this.lastAt = performance.now();
  }
}

export interface ServeOptions extends CollectorOptions {
  /** "host:port", "[v6]:port" or a port alone (then 127.0.0.1). Default "127.0.0.1:9603". */
  listen?: string | number;
  /** Path of the metrics (default /metrics). */
  path?: string;
  /** Requests per second over all clients before 429 (default 20). */
  maxRequestsPerSecond?: number;
}

export interface MetricsServer {
  readonly server: http.Server;
  /** Where it listens, as "host:port". */
  readonly address: string;
  readonly collector: XenCollector;
  close(): Promise<void>;
}

/** "127.0.0.1:9603" → host and port; a bare port listens on loopback. */
export function parseListen(listen: string | number): { host: string; port: number } {
  const op = 'metrics server';
  const s = String(listen);
  let m = /^(\d+)$/.exec(s);
  const portOf = (p: string) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw outOfRange(op, `port must be 0–65535, got ${p}`);
    return n;
  };
  if (m) return { host: '127.0.0.1', port: portOf(m[1]) };
  m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([A-Za-z0-9.-]+):(\d+)$/.exec(s);
  if (!m) throw invalidArg(op, `listen must be host:port, [v6]:port or a port, got ${JSON.stringify(s)}`);
  return { host: m[1], port: portOf(m[2]) };
}

/**
 * Serves the host's metrics over HTTP (read-only). Rejects with ERR_STREAM (and the errno) when
 * it cannot listen there.
 */
export async function serveMetrics(host: Host, opts: ServeOptions = {}): Promise<MetricsServer> {
  const { host: bindHost, port } = parseListen(opts.listen ?? '127.0.0.1:9603');
  const path = opts.path ?? '/metrics';
  if (typeof path !== 'string' || !path.startsWith('/')) throw invalidArg('metrics server', 'path must start with /');
  const rate = opts.maxRequestsPerSecond ?? 20;
  if (!(rate > 0)) throw badNumber('metrics server', rate, 'maxRequestsPerSecond must be > 0');
  const collector = new XenCollector(host, opts);
  // A token bucket over all clients: a burst of `rate`, refilled at `rate` per second.
  let tokens = rate;
  let refilled = performance.now();
  const server = http.createServer({ maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => {
    const now = performance.now();
    tokens = Math.min(rate, tokens + ((now - refilled) / 1000) * rate);
    refilled = now;
    const reply = (status: number, body: string, headers: http.OutgoingHttpHeaders = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'read-only: GET or HEAD\n', { Allow: 'GET, HEAD' });
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > 0 || req.headers['transfer-encoding']) return reply(413, 'no request body is accepted\n');
    const url = (req.url ?? '/').split('?')[0];
    if (url === '/') return reply(200, `xenlight exporter: metrics at ${path}\n`);
    if (url !== path) return reply(404, 'not found\n');
    if (tokens < 1) return reply(429, 'too many requests\n', { 'Retry-After': '1' });
    tokens -= 1;
    collector.metrics().then(
      (text) => reply(200, text, { 'Content-Type': collector.registry.contentType }),
      (e: unknown) => reply(500, `${(e as Error).message}\n`),
    );
  });
  server.maxConnections = 64;
  // Malformed requests and oversized headers get Node's own 400/431 and the connection closed.
  // A listen failure (EADDRINUSE, EACCES, EADDRNOTAVAIL…) is ERR_STREAM with its errno.
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      const op = `metrics server: listen on ${bindHost}:${port}`;
      reject(
        new XenError(`${op}: ${err.message}`, {
          code: 'ERR_STREAM',
          op,
          errno: typeof err.errno === 'number' ? Math.abs(err.errno) : undefined,
          cause: err,
        }),
      );
    };
    server.once('error', failed);
    server.listen(port, bindHost, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  return {
    server,
    address: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    collector,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
