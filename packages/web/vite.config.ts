/**
 * The web app's build: static files in dist/, served by `twin start` from the API's own origin.
 * Screens beyond the first (files, posts, settings) are split into chunks loaded on demand, so the
 * first screen downloads only React, Pico and the chat screens.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 300,
  },
  logLevel: 'warn',
});
