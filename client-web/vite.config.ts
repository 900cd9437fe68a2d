import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// The server (realtime/api/web.py) serves dist/ at /; `npm run dev` proxies the API to it.
const server = process.env.AVATAR_SERVER ?? 'http://127.0.0.1:8000';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1600,
    rollupOptions: {
      output: {
        manualChunks: { three: ['three'], r3f: ['@react-three/fiber', '@react-three/drei'] },
      },
    },
  },
  server: {
    proxy: {
      '/api': server,
      '/media': server,
      '/ws': { target: server.replace(/^http/, 'ws'), ws: true },
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
});
