/* The C baseline for bench/stats.ts: what one host.stats.sample() collects, in one process with
 * libxenstat (xenstat_get_node with vCPUs, networks and block devices; every counter read) and
 * libxenctrl (pCPU idle times). Prints ns per sample as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <xenctrl.h>
#include <xenstat.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100;
  xenstat_handle *h = xenstat_init();
  xc_interface *xc = xc_interface_open(NULL, NULL, 0);
  if (!h || !xc) return 1;
  xc_cpuinfo_t info[256];
  volatile unsigned long long sink = 0;
  unsigned ndom = 0;
  double t0 = now_ns();
  for (int i = 0; i < n; i++) {
    xenstat_node *node = xenstat_get_node(h, XENSTAT_VCPU | XENSTAT_NETWORK | XENSTAT_VBD);
    if (!node) return 2;
    int ncpu = 0;
    xc_getcpuinfo(xc, 256, info, &ncpu);
    for (int c = 0; c < ncpu; c++) sink += info[c].idletime;
    sink += xenstat_node_tot_mem(node) + xenstat_node_free_mem(node) + xenstat_node_cpu_hz(node);
    ndom = xenstat_node_num_domains(node);
    for (unsigned d = 0; d < ndom; d++) {
      xenstat_domain *dom = xenstat_node_domain_by_index(node, d);
      const char *name = xenstat_domain_name(dom);
      sink += name ? name[0] : 0;
      sink += xenstat_domain_id(dom) + xenstat_domain_cpu_ns(dom) + xenstat_domain_cur_mem(dom) +
              xenstat_domain_max_mem(dom) + xenstat_domain_ssid(dom) + xenstat_domain_running(dom) +
              xenstat_domain_blocked(dom) + xenstat_domain_paused(dom) + xenstat_domain_shutdown(dom) +
              xenstat_domain_crashed(dom) + xenstat_domain_dying(dom);
      for (unsigned v = 0; v < xenstat_domain_num_vcpus(dom); v++) {
        xenstat_vcpu *vc = xenstat_domain_vcpu(dom, v);
        sink += xenstat_vcpu_online(vc) + xenstat_vcpu_ns(vc);
      }
      for (unsigned k = 0; k < xenstat_domain_num_networks(dom); k++) {
        xenstat_network *x = xenstat_domain_network(dom, k);
        sink += xenstat_network_id(x) + xenstat_network_rbytes(x) + xenstat_network_rpackets(x) +
                xenstat_network_rerrs(x) + xenstat_network_rdrop(x) + xenstat_network_tbytes(x) +
                xenstat_network_tpackets(x) + xenstat_network_terrs(x) + xenstat_network_tdrop(x);
      }
      for (unsigned k = 0; k < xenstat_domain_num_vbds(dom); k++) {
        xenstat_vbd *x = xenstat_domain_vbd(dom, k);
        sink += xenstat_vbd_type(x) + xenstat_vbd_dev(x) + xenstat_vbd_oo_reqs(x) + xenstat_vbd_rd_reqs(x) +
                xenstat_vbd_wr_reqs(x) + xenstat_vbd_rd_sects(x) + xenstat_vbd_wr_sects(x) + xenstat_vbd_error(x);
      }
    }
    xenstat_free_node(node);
  }
  double per = (now_ns() - t0) / n;
  printf("{\"domains\":%u,\"sampleNs\":%.0f}\n", ndom, per);
  xc_interface_close(xc);
  xenstat_uninit(h);
  return 0;
}
