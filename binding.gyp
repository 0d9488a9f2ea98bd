{
  "variables": {
    # -Dsanitize=1 (npm run build:debug) builds the Debug addon with ASan and UBSan.
    "sanitize%": 0,
    # -Dportable=1 makes native/socket.cc take the fcntl/SO_NOSIGPIPE path macOS needs, on Linux
    # too, so that `npm run test:portable` runs that code here.
    "portable%": 0,
    # -Dkqueue_double=1 (test builds only, `npm run test:kqueue`) compiles native/kqueue.cc
    # against test/native/kqueue-double, an emulation of <sys/event.h> over poll(2).
    "kqueue_double%": 0
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
    },
    "conditions": [
      ["portable==1", {
        "defines": ["IOMUX_PORTABLE"]
      }]
    ]
  },
  "targets": [
    {
      "target_name": "iomux",
      "sources": [
        "native/binding.cc",
        "native/batch_io.cc",
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
        }],
        ["OS=='linux' and kqueue_double==1", {
          "sources": ["native/kqueue.cc", "test/native/kqueue-double/event.cc"],
          "include_dirs": ["test/native/kqueue-double"],
          "defines": ["IOMUX_HAVE_KQUEUE"]
        }]
      ]
    }
  ]
}
