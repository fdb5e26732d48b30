import base from "../playwright.config.js";
import { defineConfig } from "@playwright/test";

// The browser benchmark: prints figures, asserts nothing about speed.
export default defineConfig({ ...base, testDir: ".", testMatch: "*.bench.ts", timeout: 30 * 60_000, outputDir: "../../target/dashboard-bench-results" });
