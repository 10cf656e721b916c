/** @type {import('next').NextConfig} */
export default {
  // No `serverExternalPackages` needed: Next bundles its own copy of @loewen-digital/realtime into
  // the route chunks, apart from the copy server.js imports, and the two share the upgrade
  // registry on globalThis (the tests run this way, in dev and production).
  poweredByHeader: false,
  // `next dev` would otherwise write an AGENTS.md into the project.
  agentRules: false,
  experimental: { agentUpgrade: false },
}
