// The Pulumi program: the language host requires the project folder, whose package.json `main`
// is this file. It runs index.ts, compiled when dist/ is current (bin/compiled.js); its
// exports are the stack's outputs.
module.exports = require('./compiled').load('index');
