{
  "variables": {
    # node-gyp rebuild --debug -- -Dsanitize=1 builds the addon with ASan and UBSan.
    "sanitize%": 0
  },
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fstack-protector-strong"],
    "cflags": ["-Wall", "-Wextra", "-O2"],
    "configurations": {
      # Only Debug: a sanitized configure must never change what build/Release holds.
      "Debug": {
        "conditions": [
          ["sanitize==1", {
            "cflags_cc": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"],
            "ldflags": ["-fsanitize=address,undefined"]
          }]
        ]
      }
    }
  },
  "targets": [
    {
      "target_name": "iomux",
      "sources": [
        "native/binding.cc",
        "native/binding_socket.cc",
        "native/binding_datagram.cc",
        "native/binding_resolver.cc",
        "native/resolver.cc",
        "native/binding_watch.cc",
        "native/select.cc",
        "native/poll.cc",
        "native/socket.cc",
        "native/wait_thread.cc"
      ],
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api"],
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/epoll.cc"],
          "defines": ["IOMUX_HAVE_EPOLL"]
        }],
        ["OS=='mac' or OS=='freebsd' or OS=='openbsd'", {
          "sources": ["native/kqueue.cc"],
          "defines": ["IOMUX_HAVE_KQUEUE"],
          "xcode_settings": {
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "WARNING_CFLAGS": ["-Wall", "-Wextra"]
          }
        }]
      ]
    }
  ],
  "conditions": [
    # Benchmark reference programs (bench/reference, bench/loadgen): plain C executables,
    # Linux only because they use epoll. Built into build/Release/ beside iomux.node.
    ["OS=='linux'", {
      "targets": [
        {
          "target_name": "pipes_ref",
          "type": "executable",
          "sources": ["bench/reference/pipes.c"],
          "cflags": ["-O2", "-Wall", "-Wextra", "-pthread"],
          "ldflags": ["-pthread"]
        },
        {
          "target_name": "echo_ref",
          "type": "executable",
          "sources": ["bench/reference/echo.c"],
          "cflags": ["-O2", "-Wall", "-Wextra"]
        },
        {
          "target_name": "loadgen",
          "type": "executable",
          "sources": ["bench/loadgen/loadgen.c"],
          "cflags": ["-O2", "-Wall", "-Wextra"]
        }
      ]
    }]
  ]
}
