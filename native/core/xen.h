// The Xen headers have no extern "C" guards of their own.
#pragma once
extern "C" {
#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>
}

// What this libxl has, in one place: feature tests on libxl's own LIBXL_HAVE_* macros rather than
// Xen version numbers (as libvirt's libxl driver does), so 4.18 and 4.19 build too. A call whose
// feature is missing is refused with libxl's ERROR_NI.
#if defined(LIBXL_HAVE_DOMAIN_SUSPEND_ONLY) && !defined(LIBXL_HAVE_NO_SUSPEND_RESUME)
#define XENLIGHT_HAVE_SUSPEND_ONLY 1  // libxl_domain_suspend_only: `xl suspend` (xl 4.20; libxl 4.13+)
#endif
