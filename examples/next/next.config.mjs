/** @type {import('next').NextConfig} */
export default {
  // Loaded by Node, not bundled: the route files and server.js then share one copy of the package
  // (the upgrade registry lives on globalThis anyway, so a bundled copy would find the socket too).
  serverExternalPackages: ['@loewen-digital/realtime', '@loewen-digital/realtime-node', '@loewen-digital/realtime-core', 'ws'],
  poweredByHeader: false,
}
