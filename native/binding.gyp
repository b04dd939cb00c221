{
  "targets": [
    {
      "target_name": "ambit_native",
      "sources": ["src/ambit_native.cc"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Werror"],
      "cflags_cc!": ["-fno-exceptions"]
    }
  ]
}
