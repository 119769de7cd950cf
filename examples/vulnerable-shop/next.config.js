/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // ruleid: LL019
  productionBrowserSourceMaps: true,
  env: {
    // ruleid: LL004
    ASSISTANT_TOKEN: process.env.OLLAMA_API_TOKEN,
    // ok: LL004 — a build id is not a secret
    BUILD_ID: "2026-11-25",
  },
};

module.exports = nextConfig;
