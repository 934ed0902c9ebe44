// Checks a script's source map with the `source-map` package (a maintained consumer):
// every token start of every source maps to a generated position holding the same text, and back.
// Usage: node check_sourcemap.js NODE_MODULES SCRIPT MAP ; prints a JSON report.
const path = require("path");
const fs = require("fs");
const { SourceMapConsumer } = require(path.join(process.argv[2], "source-map"));

const script = fs.readFileSync(process.argv[3], "utf8").split("\n");
const raw = JSON.parse(fs.readFileSync(process.argv[4], "utf8"));

(async () => {
  const consumer = await new SourceMapConsumer(raw);
  const report = { checked: 0, wrong: [], sources: consumer.sources };
  consumer.sources.forEach((source) => {
    const lines = consumer.sourceContentFor(source).split("\n");
    lines.forEach((text, index) => {
      const tokens = /[\w$]+|\S/g;
      let match;
      while ((match = tokens.exec(text))) {
        const original = { source, line: index + 1, column: match.index };
        const generated = consumer.generatedPositionFor(original);
        const there = generated.line ? script[generated.line - 1].substr(generated.column, match[0].length) : null;
        const back = generated.line ? consumer.originalPositionFor(generated) : {};
        report.checked += 1;
        if (there !== match[0] || back.source !== source || back.line !== original.line || back.column !== original.column) {
          if (report.wrong.length < 5) report.wrong.push({ original, generated, there, back });
        }
      }
    });
  });
  consumer.destroy();
  console.log(JSON.stringify(report));
})();
