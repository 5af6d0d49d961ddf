// What a Vite project needs for simil: its worker is an ES module worker (it imports the wasm
// modules on demand, so it must be bundled as 'es', not the default 'iife'), and the dev
// server must not pre-bundle the package (pre-bundling moves it away from its wasm and weights).
import { defineConfig } from 'vite';

export default defineConfig({
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['simil'] },
});
