#!/usr/bin/env node
// The keystore command line; the compiled entry point does the work (npm run build first).
import '../dist/src/main.js';
