/* The C baseline for bench/list.ts: libxl_list_domain (+ each domain's name, as `xl list`
 * does) in a loop in one process. Prints ns per call for both loops as JSON. */
#include <libxl.h>
#include <libxl_utils.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  xentoollog_logger *lg = (xentoollog_logger *)xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
  libxl_ctx *ctx;
  if (libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, lg)) return 1;
  int nb = 0;
  double t0 = now_ns();
  for (int i = 0; i < n; i++) {
    libxl_dominfo *info = libxl_list_domain(ctx, &nb);
    for (int j = 0; j < nb; j++) free(libxl_domid_to_name(ctx, info[j].domid));
    libxl_dominfo_list_free(info, nb);
  }
  double withNames = (now_ns() - t0) / n;
  t0 = now_ns();
  for (int i = 0; i < n; i++) {
    libxl_dominfo *info = libxl_list_domain(ctx, &nb);
    libxl_dominfo_list_free(info, nb);
  }
  double listOnly = (now_ns() - t0) / n;
  printf("{\"domains\":%d,\"withNamesNs\":%.0f,\"listOnlyNs\":%.0f}\n", nb, withNames, listOnly);
  libxl_ctx_free(ctx);
  return 0;
}
