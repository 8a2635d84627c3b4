// The Xen headers have no extern "C" guards of their own.
#pragma once
extern "C" {
#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenstore.h>
#include <xentoollog.h>
}
