{
  "targets": [
    {
      "target_name": "icmp6",
      "sources": ["native/icmp6.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
