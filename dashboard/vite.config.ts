import { defineConfig } from "vite";

// Relative asset paths: the bundle is embedded in the tasknet binary and
// served at whatever address `tasknet up` listens on.
export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: { host: "127.0.0.1" },
});
