{
  "targets": [
    {
      "target_name": "xenlight",
      "sources": [
        "native/addon.cc",
        "native/core/args.cc",
        "native/core/context.cc",
        "native/core/errors.cc",
        "native/core/events.cc",
        "native/core/host.cc",
        "native/core/logger.cc",
        "native/core/loop_binding.cc",
        "native/core/operation.cc",
        "native/core/worker.cc",
        "native/core/xenstore.cc",
        "native/debug/introspect.cc",
        "native/devices/assignable.cc",
        "native/devices/devices.cc",
        "native/domain/cleanup.cc",
        "native/domain/control.cc",
        "native/domain/create.cc",
        "native/domain/list.cc",
        "native/monitor/hostdiag.cc",
        "native/monitor/stats.cc",
        "native/sched/cpus.cc",
        "native/sched/params.cc",
        "native/transfer/save_restore.cc",
        "native/transfer/stream_pair.cc",
        "native/xlcfg/subspecs.cc"
      ],
      "include_dirs": ["native", "<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=gnu++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lxenlight", "-lxlutil", "-l:libyajl.so.2", "-lxenctrl", "-lxenstore", "-lxentoollog"],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"]
    }
  ]
}
