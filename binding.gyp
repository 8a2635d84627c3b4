{
  "targets": [
    {
      "target_name": "xenlight",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/config.cc",
        "native/context.cc",
        "native/debug.cc",
        "native/devices.cc",
        "native/domain.cc",
        "native/errors.cc",
        "native/host.cc",
        "native/logger.cc",
        "native/loop.cc",
        "native/sched.cc",
        "native/stats.cc",
        "native/streams.cc",
        "native/worker.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"],
      "cflags_cc": ["-std=gnu++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lxenlight", "-lxlutil", "-l:libyajl.so.2", "-lxenctrl", "-lxenstore", "-lxentoollog"],
      "defines": ["NAPI_VERSION=8", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"]
    }
  ]
}
